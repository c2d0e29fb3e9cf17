"""Real processes: concurrent version saves, and a kill -9 in the middle of writes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

from promptkit.generation import Completion, GenerationSettings, StopReason
from promptkit.store import Store

WORKER = Path(__file__).with_name("store_workers.py")

REPO = Path(__file__).resolve().parents[2]


def start_worker(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )


def test_two_processes_saving_versions_get_distinct_numbers(store_url: str, store: Store) -> None:
    store.add_family(name="shared")
    store.add_version(family="shared", text="{{ x }}", author="seed", note="first")
    workers = [start_worker("add-versions", store_url, "shared", "15", name) for name in ("ann", "bob")]
    outputs = [worker.communicate(timeout=120) for worker in workers]
    for worker, (_, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stderr
    numbers = [int(line) for stdout, _ in outputs for line in stdout.split()]
    assert sorted(numbers) == list(range(2, 32))
    versions = store.get_family(name="shared").versions
    assert [v.number for v in versions] == list(range(1, 32))
    by_author = {v.author for v in versions}
    assert by_author == {"seed", "ann", "bob"}


def test_kill_9_mid_write_loses_nothing_committed(store_url: str, store: Store) -> None:
    store.add_family(name="crash")
    store.add_version(family="crash", text="{{ x }}", author="seed", note="first")
    worker = start_worker("write-runs", store_url, "crash")
    assert worker.stdout is not None
    committed = [int(worker.stdout.readline()) for _ in range(40)]
    os.kill(worker.pid, signal.SIGKILL)
    remaining, _ = worker.communicate(timeout=30)
    assert worker.returncode == -signal.SIGKILL
    # Ids printed before the kill were committed; the last may have been in flight.
    committed += [int(line) for line in remaining.split()]
    with Store.open(url=store_url) as reopened:
        stored = {run.id for run in reopened.list_runs(family="crash", limit=100_000)}
        assert set(committed) <= stored
        assert all(len(reopened.get_run(run_id=run_id).tokens) == 200 for run_id in committed[-3:])
        after = reopened.add_run(
            family="crash", version=1, model="stub", completion=Completion("p", "c", (), StopReason.STOP_SEQUENCE, {}),
            values={"x": "1"}, settings=GenerationSettings(),
        )
        assert after.id > max(committed)
    if store_url.startswith("sqlite"):
        engine = create_engine(store_url)
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        engine.dispose()

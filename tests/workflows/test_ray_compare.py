"""Comparisons on Ray: workers holding tiny Gemmas give the local results, survive a killed worker, and resume.

One local Ray cluster (2 CPUs, no dashboard) serves the module and is shut
down after it; a hung cluster ends the test run after a few minutes instead
of hanging it. One pool of two workers is up at a time (each takes a CPU).
"""

from __future__ import annotations

import faulthandler
import json
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from promptkit.cli import main
from promptkit.evaluation.matrix import LocalEngine
from promptkit.models.scoring import ContinuationScorer
from promptkit.workflows import ComparisonRequest, load_comparison, resume_comparison, run_comparison, run_comparison_on

ray = pytest.importorskip("ray")
from promptkit.evaluation.ray_engine import RayEngine  # noqa: E402  (needs Ray to be of use)

pytestmark = pytest.mark.ray
CLUSTER_DEADLINE_S = 300


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    """A local Ray of 2 CPUs for this module, shut down after it."""
    faulthandler.dump_traceback_later(CLUSTER_DEADLINE_S, exit=True)
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()
        faulthandler.cancel_dump_traceback_later()


class _Pools:
    """Two workers holding one model at a time (each takes one of the cluster's CPUs)."""

    def __init__(self) -> None:
        self.engine: RayEngine | None = None

    def __call__(self, model: str, *, fresh: bool = False) -> RayEngine:
        if fresh or self.engine is None or self.engine.model_name != model:
            self.release()
            self.engine = RayEngine(model, workers=2)
        return self.engine

    def release(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine = None


@pytest.fixture(scope="module")
def pool(ray_cluster: None) -> Iterator[_Pools]:
    """`pool(model, fresh=False)`: two workers holding `model`, reused until another is asked for."""
    pools = _Pools()
    yield pools
    pools.release()


def _local(store, model, request):
    return run_comparison(
        store, model, request, actor="ada", scorer=ContinuationScorer(model, batch_size=request.batch_size)
    )


def test_ray_workers_give_the_local_results(mini_store, tiny_model, pool):
    request = ComparisonRequest(family="mini", versions=[1, 2], samples=1, batch_size=2)
    engine = pool(tiny_model.info.name)
    steps: list[tuple[float, int]] = []
    on_ray = run_comparison_on(mini_store, engine, request, actor="ada", progress=lambda *step: steps.append(step))
    local = _local(mini_store, tiny_model, request)
    # Greedy completions, checks, outcome likelihoods, samples and summaries.
    assert on_ray.result.to_json() == local.result.to_json()
    assert load_comparison(mini_store, on_ray.record.id).result.to_json() == local.result.to_json()
    assert on_ray.record.model == tiny_model.info.name and on_ray.record.finished_at is not None
    assert len(on_ray.record.cells) == 4 and all(cell.run_id is not None for cell in on_ray.record.cells)
    assert steps[-1] == (12, 12) and [done for done, _ in steps] == sorted(done for done, _ in steps)
    assert engine.live_workers == 2


def test_a_killed_worker_has_its_batch_finished_by_another(mini_store, tiny_gemma3, pool):
    engine = pool("tiny:gemma3", fresh=True)  # Fresh workers: their first batches take seconds (tracing).
    pids = [ray.get(actor.pid.remote()) for actor in engine.actors]
    request = ComparisonRequest(family="mini", versions=[1, 2], batch_size=1)
    killer = threading.Timer(1.0, os.kill, (pids[0], signal.SIGKILL))
    live: list[int] = []

    def start_the_killer(done: float, total: int) -> None:
        if done == 0:
            killer.start()  # Both workers are busy with their first batch by then.
        live.append(engine.live_workers)

    on_ray = run_comparison_on(mini_store, engine, request, actor="ada", progress=start_the_killer)
    killer.join()
    assert engine.retried >= 1 and min(live) == 1  # a worker was down, and its batch ran elsewhere
    keys = [(cell.version, cell.case_id) for cell in mini_store.get_comparison(on_ray.record.id).cells]
    assert len(keys) == len(set(keys)) == 4  # nothing lost, nothing twice
    runs = [run for run in mini_store.list_runs(family="mini") if run.id in {c.run_id for c in on_ray.record.cells}]
    assert len(runs) == 4
    assert on_ray.result.to_json() == _local(mini_store, tiny_gemma3, request).result.to_json()


class _Stopped(Exception):
    """The driver going away mid-run (a dashboard rerun raises like this in a progress update)."""


def test_a_comparison_stopped_on_ray_is_resumed_there_to_the_uninterrupted_result(mini_store, tiny_gemma3, pool):
    engine = pool("tiny:gemma3")
    request = ComparisonRequest(family="mini", versions=[1, 2], samples=1, batch_size=1)

    def stop_after_the_first_cell(done: float, total: int) -> None:
        if done > 0:
            raise _Stopped

    with pytest.raises(_Stopped):
        run_comparison_on(mini_store, engine, request, actor="ada", progress=stop_after_the_first_cell)
    stopped = mini_store.list_comparisons()[0]
    assert stopped.finished_at is None and len(mini_store.get_comparison(stopped.id).cells) == 1
    resumed = resume_comparison(mini_store, engine, stopped.id, actor="ada")  # the stopped run's batches are dropped
    whole = run_comparison_on(
        mini_store, LocalEngine(tiny_gemma3, ContinuationScorer(tiny_gemma3, batch_size=1)), request, actor="ada"
    )
    assert resumed.result.to_json() == whole.result.to_json()
    keys = [(cell.version, cell.case_id) for cell in resumed.record.cells]
    assert len(keys) == len(set(keys)) == 4


def test_the_cli_runs_on_ray_and_says_how_many_workers_are_live(mini_store, templates_dir: Path, tmp_path: Path, pool,
                                                                 capsys: pytest.CaptureFixture[str]):
    pool.release()  # The command starts its own worker.
    out = tmp_path / "out.json"
    status = main(["compare", "--family", "mini", "--versions", "1,2", "--model", "tiny:gemma3", "--engine", "ray",
                   "--workers", "1", "--json", str(out), "--templates-dir", str(templates_dir)])
    assert status == 0
    assert "compare: 8/8 steps (1 workers live)" in capsys.readouterr().err
    data = json.loads(out.read_text())
    assert data["model"] == "tiny:gemma3" and len(data["cells"]) == 4
    assert mini_store.get_comparison(data["comparison_id"]).finished_at is not None

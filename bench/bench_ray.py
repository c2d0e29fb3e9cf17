"""Benchmark: a comparison on Ray workers against the same comparison in this process.

    .venv/bin/python bench/bench_ray.py [--model NAME] [--cases N] [--db-url URL] [--out bench/results/ray.md]

Runs versions 1 and 2 of the menu-analysis family over its first N cases
(default 4: 8 cells; greedy, at most 16 new tokens, outcome likelihoods,
batches of 4, every run and cell written to a temporary SQLite store, or to
`--db-url`) three ways: in this process (`--engine local`), on one Ray
worker with both CPUs, and on two Ray workers with one CPU each, all on a
local Ray of this machine's CPUs. Each way runs once to warm up (tracing)
and is timed on its second run; the local run is timed again last, so a
change in the machine's load shows. Worker start-up (each worker loads the
model) and a worker's resident memory are measured apart. Last, the driver
alone: the same comparison 10 times with its cells handed back at once
(workers infinitely fast), the rate at which one driver renders, checks and
writes cells to the store.
Default model: the embedded Gemma 3 270M (float32); `--model tiny:gemma3`
shows the fixed per-batch cost of the Ray path. Ray's workers run at
niceness 0 here, as this process does (Ray's default, 15, would slow them
on a shared machine). Results are written as Markdown with the date and
the machine.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # Run as a script from anywhere.
from promptkit.errors import PromptkitError
from promptkit.evaluation.matrix import CellBatch, CellOutput, Engine, LocalEngine, MatrixJob
from promptkit.evaluation.ray_engine import RayEngine, import_ray
from promptkit.models.loader import load_model
from promptkit.models.scoring import ContinuationScorer
from promptkit.people import AccessPolicy
from promptkit.store import Store
from promptkit.templates import default_templates_dir
from promptkit.workflows import ComparisonRequest, StoredComparison, run_comparison_on

BATCH_SIZE = 4
DRIVER_REPEATS = 10


class _Replay:
    """An engine whose batches come back at once, with the cells and completions of a finished comparison."""

    def __init__(self, store: Store, stored: StoredComparison) -> None:
        ids = [cell.run_id for cell in stored.record.cells if cell.run_id is not None]
        runs = {run.id: run for run in store.list_runs(ids=ids)}
        self._outputs: dict[tuple[int, str], CellOutput] = {}
        for cell in stored.result.cells:
            run_id = stored.run_id(cell.version, cell.case)
            completion = runs[run_id].as_completion() if run_id is not None else None
            self._outputs[(cell.version, cell.case)] = (cell, completion or PromptkitError(cell.error or ""))
        self.model_name = stored.record.model
        self.scores = True

    def run(
        self,
        job: MatrixJob,
        batches: Sequence[CellBatch],
        *,
        on_batch: Callable[[Sequence[CellOutput]], None],
        advance: Callable[[float], None],
    ) -> None:
        for batch in batches:
            on_batch([self._outputs[(cell.version, cell.case)] for cell in batch.cells])
            advance(sum(job.units(cell) for cell in batch.cells))


def _resident_mib(pid: int) -> float:
    """A process's resident memory (Linux)."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match[1]) / 1024 if match else float("nan")


def _timed_twice(store: Store, engine: Engine, request: ComparisonRequest) -> tuple[float, StoredComparison]:
    """The second of two runs: its seconds and its comparison."""
    run_comparison_on(store, engine, request, actor="bench")
    started = time.perf_counter()
    stored = run_comparison_on(store, engine, request, actor="bench")
    return time.perf_counter() - started, stored


def main() -> None:
    """Runs the benchmark and writes the Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="default: the embedded Gemma 3 270M")
    parser.add_argument("--cases", type=int, default=4)
    parser.add_argument("--db-url", default=None, help="the store to write to (default: a temporary SQLite file)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/ray.md"))
    args = parser.parse_args()
    cpus = len(os.sched_getaffinity(0))
    load_before = os.getloadavg()[0]
    ray = import_ray()
    # Ray runs its workers at niceness 15; on a shared machine that alone would slow them against this process.
    os.environ.setdefault("RAY_worker_niceness", "0")
    ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    with tempfile.TemporaryDirectory() as folder, Store.open(url=args.db_url or f"sqlite:///{folder}/store.db") as store:
        store.import_library(templates_dir=default_templates_dir())
        store.arrive(key="bench", name="bench", policy=AccessPolicy())
        cases = store.get_family(name="menu-analysis").cases[: args.cases]
        request = ComparisonRequest(
            family="menu-analysis", versions=[1, 2], cases=cases, max_new_tokens=16, batch_size=BATCH_SIZE
        )
        model = load_model(args.model)
        here = LocalEngine(model, ContinuationScorer(model, batch_size=BATCH_SIZE))
        local_s, local = _timed_twice(store, here, request)
        rows = [("this process (`--engine local`)", "–", local_s, local)]
        resident: list[float] = []
        for workers in (1, 2):
            started = time.perf_counter()
            with RayEngine(args.model, workers=workers) as engine:
                start_s = time.perf_counter() - started
                seconds, stored = _timed_twice(store, engine, request)
                resident += [_resident_mib(ray.get(actor.pid.remote())) for actor in engine.actors]
            rows.append((f"Ray, {workers} worker(s) × {cpus // workers} CPU", f"{start_s:.1f} s", seconds, stored))
        started = time.perf_counter()
        again = run_comparison_on(store, here, request, actor="bench")
        rows.append(("this process again", "–", time.perf_counter() - started, again))
        replay = _Replay(store, local)
        started = time.perf_counter()
        for _ in range(DRIVER_REPEATS):
            run_comparison_on(store, replay, request, actor="bench")
        driver_s = (time.perf_counter() - started) / DRIVER_REPEATS
    ray.shutdown()
    backend = "PostgreSQL" if (args.db_url or "").startswith("postgresql") else "SQLite"
    cells = len(local.result.cells)
    same = all(stored.result.to_json() == local.result.to_json() for *_, stored in rows)
    one_worker_s, two_workers_s = rows[1][2], rows[2][2]
    local_mean_s = (rows[0][2] + rows[3][2]) / 2
    machine = f"{platform.node()} — {platform.processor() or platform.machine()}, {cpus} cores"
    lines = [
        "# Benchmarks: comparisons on Ray (`bench/bench_ray.py`)",
        "",
        f"Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC · machine: {machine} · model: "
        f"{model.info.name} ({model.info.dtype}, {model.info.device}) · load average {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after",
        "",
        f"{cells} cells (2 versions × {len(cases)} cases), greedy, ≤ 16 new tokens, outcome likelihoods, batches "
        f"of {BATCH_SIZE}; second of two runs, store writes included.",
        "",
        "| engine | worker start-up | comparison | cells/s |",
        "| --- | --- | --- | --- |",
        *(f"| {name} | {start} | {seconds:.1f} s | {cells / seconds:.2f} |" for name, start, seconds, _ in rows),
        "",
        f"Ray with one worker against this process (mean of its two runs): {one_worker_s / local_mean_s:.2f}× "
        f"the time; two workers against "
        f"one: {one_worker_s / two_workers_s:.2f}× the throughput. Same results (completions, checks, "
        f"likelihoods, summaries) on every engine: {'yes' if same else 'NO'}. A worker's resident memory "
        f"after the runs: {min(resident):.0f}–{max(resident):.0f} MiB. The driver alone (cells handed back at "
        f"once; rendering, checks, {cells} runs and {cells} cells written to {backend} in "
        f"{cells // BATCH_SIZE} batches): {driver_s:.3f} s per comparison, {cells / driver_s:.0f} cells/s.",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

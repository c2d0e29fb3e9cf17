"""Benchmark: versions × cases matrix and outcome likelihoods, batched vs one-by-one.

Runs 3 versions × 8 cases of the menu-analysis family on the embedded Gemma
3 270M (greedy, the versions' own settings), once with several prompts per
model call and once one prompt per call, in the same process after a
warm-up of each; then scores the 4 candidate outcomes of one cell in one
batch and one at a time. Writes `bench/results/compare.md`; copy the table into `docs/benchmarks.md`.

Usage: python bench/bench_compare.py [--model NAME] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # Run as a script from anywhere.
from promptkit.evaluation.matrix import DEFAULT_BATCH_SIZE, run_matrix
from promptkit.evaluation.outcomes import outcome_likelihoods, outcome_prefix
from promptkit.models.loader import load_model
from promptkit.models.scoring import ContinuationScorer
from promptkit.templates import default_templates_dir, load_family_file


def _timed(work):
    started = time.perf_counter()
    value = work()
    return time.perf_counter() - started, value


def main() -> None:
    """Runs the benchmark and writes the Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--out", type=Path, default=Path("bench/results/compare.md"))
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    args = parser.parse_args()
    family = load_family_file(default_templates_dir() / "menu-analysis.yaml")
    versions, cases = family.versions[:3], family.cases[:8]
    model = load_model(args.model)

    def matrix(batch_size: int):
        return run_matrix(model, family, versions=versions, cases=cases, batch_size=batch_size)

    # Warm-up: trace the compiled steps for both batch shapes.
    run_matrix(model, family, versions=versions, cases=cases, batch_size=args.batch_size)
    run_matrix(model, family, versions=versions[:1], cases=cases[:1], batch_size=1)
    batched_s, batched = _timed(lambda: matrix(args.batch_size))
    single_s, single = _timed(lambda: matrix(1))
    same = sum(a.completion == b.completion for a, b in zip(batched.cells, single.cells))

    cell = batched.cell(1, cases[0].id)
    prefix = outcome_prefix(cell.prompt or "", cell.completion, line="Recommendation:")
    labels = family.candidate_labels
    batch_scorer, one_scorer = ContinuationScorer(model, batch_size=len(labels)), ContinuationScorer(model, batch_size=1)
    outcome_likelihoods(batch_scorer, [prefix], labels)  # Warm-up traces.
    outcome_likelihoods(one_scorer, [prefix], labels)
    scored_batched_s, together = _timed(lambda: outcome_likelihoods(batch_scorer, [prefix], labels))
    scored_single_s, apart = _timed(lambda: outcome_likelihoods(one_scorer, [prefix], labels))
    largest = max(abs(together[0][label] - apart[0][label]) for label in labels)

    machine = f"{platform.node()} — {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {model.info.device}"
    lines = [
        "# Benchmarks: A/B comparison (`bench/bench_compare.py`)",
        "",
        f"Date: {datetime.date.today().isoformat()} · machine: {machine} · model: {model.info.name} ({model.info.dtype})",
        "",
        "| measurement | batched | one-by-one | ratio |",
        "| --- | --- | --- | --- |",
        f"| matrix, 3 versions × 8 cases, greedy (batch {args.batch_size}) | {batched_s:.1f} s | {single_s:.1f} s | "
        f"{batched_s / single_s:.2f}× |",
        f"| outcome likelihoods, 4 candidates, 1 prefix | {scored_batched_s:.2f} s | {scored_single_s:.2f} s | "
        f"{scored_batched_s / scored_single_s:.2f}× |",
        "",
        f"Identical completions batched vs one-by-one: {same}/{len(batched.cells)}. Largest difference in a "
        f"normalised outcome likelihood: {largest:.1e}. Target: batched matrix ≤ 0.4× the one-by-one time.",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

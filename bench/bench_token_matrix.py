"""Benchmarks token-by-token matrices on the embedded Gemma 3 270M and prints a markdown table.

Run: `python bench/bench_token_matrix.py` (about 20 minutes on 2 CPU cores;
`--skip-growth` stops after the codelab sequence, about 5).

Measured, in one process: the grad_l2 matrix of the codelab v1 prompt's
greedy completion against one single-token explanation per row (target
≤ 0.45× their time), alternately, best of 2; the attention matrix against
one forward pass (target ≤ 1.5×); then how both grow with 64 and 256
generated tokens and with a 2,000-token prompt. Every compiled function is
called once before it is timed, so tracing is reported apart. Peak memory
is the process's maximum resident set after each stage (it only grows, so
stages run smallest first).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # Run as a script from anywhere.
from bench_salience import best_of, plain_forward_backward

from promptkit.generation import GenerationSettings
from promptkit.models.loader import load_model
from promptkit.models.scoring import ContinuationScorer
from promptkit.salience import ATTENTION, ROWS_PER_PASS, SalienceEngine, TokenRange

EXAMPLES = Path(__file__).resolve().parents[1] / "tests/models/data/codelab_prompts.jsonl"


def timed(function: Callable[[], object]) -> float:
    """Wall time of one call."""
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def peak_gib() -> float:
    """The process's maximum resident set so far, GiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    """Runs every measurement and prints the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-growth", action="store_true", help="only the codelab sequence")
    args = parser.parse_args()
    prompt = json.loads(EXAMPLES.read_text().splitlines()[0])["prompt"]
    model = load_model()
    completion = model.generate([prompt], settings=GenerationSettings(max_new_tokens=64))[0].text
    engine = SalienceEngine(model)
    prompt_ids, target_ids = model.tokenize(prompt), model.tokenize(completion)
    rows = len(target_ids)
    length = 1 + len(prompt_ids) + rows
    table: list[tuple[str, str]] = [("sequence", f"{length} tokens, {rows} generated: {completion!r}")]

    def matrix(method: str = "grad_l2", text: str = prompt, target: str = completion) -> object:
        engine.clear_cache()
        return engine.token_matrix(text, target, method=method)

    def singles(text: str = prompt, target: str = completion, count: int = rows) -> object:
        engine.clear_cache()
        return [engine.explain(text, target, selection=TokenRange(i, i + 1)) for i in range(count)]

    traces = {
        "grad_l2 matrix (graphs for 8 rows and the remainder)": timed(matrix),
        "one single-token explanation": timed(lambda: singles(count=1)),
        "attention matrix": timed(lambda: matrix(ATTENTION)),
    }
    matrix_times, single_times = [], []
    for _ in range(2):  # Alternately, so a change of the machine's load hits both.
        matrix_times.append(timed(matrix))
        single_times.append(timed(singles))
    matrix_s, singles_s = min(matrix_times), min(single_times)
    table += [
        (f"grad_l2 matrix, {rows} rows ({-(-rows // ROWS_PER_PASS)} forward passes, {rows} backward), warm", f"{matrix_s:.2f} s"),
        (f"{rows} single-token grad_l2 explanations, warm", f"{singles_s:.2f} s ({singles_s / rows:.2f} s each)"),
        ("matrix / single explanations", f"**{matrix_s / singles_s:.2f}** (target ≤ 0.45)"),
        ("grad_dot_input matrix, warm", f"{best_of(lambda: matrix('grad_dot_input'), repeats=1):.2f} s"),
    ]
    scorer = ContinuationScorer(model)
    ids = np.array([model.vocabulary.bos_id, *prompt_ids, *target_ids], np.int32)
    forward, _ = plain_forward_backward(model, ids, 1 + len(prompt_ids))
    attention_s = best_of(lambda: matrix(ATTENTION))
    steps_s = best_of(lambda: scorer.step_scores([model.vocabulary.bos_id, *prompt_ids], target_ids))
    forward_s = best_of(forward)
    table += [
        ("attention matrix (18 layers × 4 heads, step scores from the same pass), warm", f"{attention_s:.2f} s"),
        (f"one forward pass: step scores of the {rows} tokens (logits at their positions)", f"{steps_s:.2f} s"),
        ("one forward pass: causal LM, logits at every position", f"{forward_s:.2f} s"),
        ("attention / step-scores pass", f"**{attention_s / steps_s:.2f}** (target ≤ 1.5)"),
        ("attention / causal LM forward", f"{attention_s / forward_s:.2f}"),
        ("peak resident memory after the codelab sequence (process, model included)", f"{peak_gib():.2f} GiB"),
    ]
    table += [(f"first call, tracing included: {name}", f"{seconds:.1f} s") for name, seconds in traces.items()]

    if not args.skip_growth:
        single_s = best_of(lambda: singles(count=1), repeats=2)
        for new_tokens in (64, 256):
            settings = GenerationSettings(max_new_tokens=new_tokens, stop_sequences=())
            longer = model.generate([prompt], settings=settings)[0].text
            count = len(model.tokenize(longer))
            gradient_s = timed(lambda longer=longer: matrix(target=longer))
            attention_long_s = timed(lambda longer=longer: matrix(ATTENTION, target=longer))
            table.append((
                f"{count} generated tokens ({1 + len(prompt_ids) + count}-token sequence): grad_l2 matrix / attention matrix",
                f"{gradient_s:.1f} s / {attention_long_s:.2f} s (≈ {count} × {single_s:.2f} s single explanations "
                f"at 230 tokens: {count * single_s:.0f} s); peak {peak_gib():.2f} GiB",
            ))
        long_prompt = prompt
        while len(model.tokenize(long_prompt)) < 2000:
            long_prompt = prompt.split("## Now")[0] + long_prompt
        long_tokens = len(model.tokenize(long_prompt)) + rows + 1
        long_single_s = timed(lambda: singles(text=long_prompt, count=1))
        gradient_s = timed(lambda: matrix(text=long_prompt))
        attention_long_s = timed(lambda: matrix(ATTENTION, text=long_prompt))
        table.append((
            f"{long_tokens}-token sequence ({rows} generated): grad_l2 matrix / attention matrix",
            f"{gradient_s:.1f} s / {attention_long_s:.2f} s (one single explanation {long_single_s:.1f} s, "
            f"× {rows} = {rows * long_single_s:.0f} s); peak {peak_gib():.2f} GiB",
        ))

    print(
        f"Token-matrix benchmark — {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC — "
        f"load average {os.getloadavg()[0]:.1f}\n"
    )
    print("| measurement | result |\n| --- | --- |")
    for name, value in table:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()

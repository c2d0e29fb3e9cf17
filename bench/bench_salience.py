"""Benchmarks salience on the embedded Gemma 3 270M and prints a markdown table.

Run: `python bench/bench_salience.py` (about 5 minutes on 2 CPU cores).
Also times contrastive salience, occlusion and step scores, the other
"why" views, on the same sequence.
Timings are the best of a few warm runs (the first call of each compiled
function is excluded), so they are robust to other load on the machine.
"""

from __future__ import annotations

import datetime
import json
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # Run as a script from anywhere.
from promptkit.generation import GenerationSettings
from promptkit.models.backend import keras_modules
from promptkit.models.loader import load_model
from promptkit.models.scoring import ContinuationScorer
from promptkit.salience import LinePrefix, SalienceEngine, TokenRange, WholeTarget

EXAMPLES = Path(__file__).resolve().parents[1] / "tests/models/data/codelab_prompts.jsonl"


def best_of(function: Callable[[], object], repeats: int = 3) -> float:
    """Best wall time of `repeats` warm calls (one untimed warm-up first)."""
    function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def plain_forward_backward(model, ids: np.ndarray, first_target: int) -> tuple[Callable[[], object], Callable[[], object]]:
    """The causal LM's own forward (full logits) and forward+backward of the same loss w.r.t. its weights."""
    _, _, tf = keras_modules()
    causal_lm = model.causal_lm
    tokens = tf.constant(ids[None, :-1])
    labels = tf.constant(ids[None, 1:])
    weights = tf.constant((np.arange(1, len(ids)) >= first_target)[None].astype(np.float32))
    padding = tf.ones_like(tokens)

    def loss_fn():
        logits = causal_lm({"token_ids": tokens, "padding_mask": padding})
        picked = tf.gather(logits, labels, axis=2, batch_dims=2)
        return tf.reduce_sum(weights * (tf.reduce_logsumexp(logits, -1) - picked))

    @tf.function
    def forward():
        return loss_fn()

    @tf.function
    def forward_backward():
        with tf.GradientTape() as tape:
            loss = loss_fn()
        return tape.gradient(loss, causal_lm.trainable_variables)

    return forward, forward_backward


def main() -> None:
    """Runs every measurement and prints the table."""
    prompt = json.loads(EXAMPLES.read_text().splitlines()[0])["prompt"]
    model = load_model()
    completion = model.generate([prompt], settings=GenerationSettings(max_new_tokens=64))[0].text
    engine = SalienceEngine(model)
    prompt_ids, target_ids = model.tokenize(prompt), model.tokenize(completion)
    ids = np.array([model.vocabulary.bos_id, *prompt_ids, *target_ids], np.int32)
    rows: list[tuple[str, str]] = [("sequence", f"{len(ids)} tokens ({len(target_ids)} target): {completion!r}")]

    def grad_l2(selections=(WholeTarget(),), text=prompt, target=completion):
        engine.clear_cache()
        return engine.explain_many(text, target, list(selections), method="grad_l2")

    salience_s = best_of(grad_l2)
    forward, forward_backward = plain_forward_backward(model, ids, 1 + len(prompt_ids))
    plain_s = best_of(forward_backward)
    forward_s = best_of(forward)
    rows += [
        ("grad_l2, whole completion, warm", f"{salience_s:.2f} s"),
        ("plain forward + backward (causal LM, full logits, weight gradients)", f"{plain_s:.2f} s"),
        ("plain forward only (causal LM, full logits)", f"{forward_s:.2f} s"),
        ("ratio grad_l2 / plain forward+backward (target ≤ 1.3)", f"{salience_s / plain_s:.2f}"),
    ]

    chunk = max(1, len(target_ids) // 5)
    spans = [TokenRange(i * chunk, (i + 1) * chunk if i < 4 else len(target_ids)) for i in range(5)]
    batched_s = best_of(lambda: grad_l2(spans), repeats=2)
    sequential_s = best_of(lambda: [grad_l2([span]) for span in spans], repeats=2)
    rows += [
        ("5 target spans, one batched call", f"{batched_s:.2f} s"),
        ("5 target spans, 5 sequential calls", f"{sequential_s:.2f} s"),
        ("batched / sequential (target ≤ 0.5)", f"{batched_s / sequential_s:.2f}"),
    ]

    answer = LinePrefix("Recommendation:") if "\nRecommendation:" in completion else WholeTarget()

    def contrast():
        engine.clear_cache()
        return engine.explain(prompt, completion, selection=answer, method="grad_l2", contrast="Avoid.")

    scorer = ContinuationScorer(model)
    rows += [
        ('contrastive grad_l2: the answer line rather than "Avoid." (two sequences), warm', f"{best_of(contrast):.2f} s"),
        (
            f"step scores of the {len(target_ids)}-token completion (probability, entropy, rank, top 5), warm",
            f"{best_of(lambda: scorer.step_scores([model.vocabulary.bos_id, *prompt_ids], target_ids)):.2f} s",
        ),
    ]

    def occlusion(granularity: str):
        engine.clear_cache()
        return engine.explain_occlusion(prompt, completion, selection=answer, granularity=granularity)

    for granularity in ("lines", "sentences"):
        pieces = int(occlusion(granularity).details["pieces"])
        rows.append((f"occlusion of the answer line, each of {pieces} {granularity} left out, warm",
                     f"{best_of(lambda g=granularity: occlusion(g), repeats=1):.2f} s"))

    def integrated():
        engine.clear_cache()
        return engine.explain(prompt, completion, method="integrated_gradients", steps=16, batch_size=8)

    ig_s = best_of(integrated, repeats=1)
    error = integrated().details["completeness_error"]
    rows.append(("integrated_gradients, 16 steps, batch 8", f"{ig_s:.2f} s (completeness error {error:.3g})"))

    long_prompt = prompt
    while len(model.tokenize(long_prompt)) < 2000:
        long_prompt = prompt.split("## Now")[0] + long_prompt
    long_tokens = len(model.tokenize(long_prompt)) + len(target_ids) + 1
    long_s = best_of(lambda: grad_l2(text=long_prompt), repeats=1)
    rows.append((f"grad_l2, {long_tokens}-token sequence, warm", f"{long_s:.2f} s"))
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    rows.append(("peak resident memory (whole process, model included)", f"{peak_gib:.2f} GiB"))

    print(f"Salience benchmark — {datetime.date.today()} — {platform.node()}, {platform.processor() or platform.machine()}, "
          f"load average {statistics.mean(__import__('os').getloadavg()):.1f}\n")
    print("| measurement | result |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()

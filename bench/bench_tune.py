"""Benchmark: a LoRA training step with the label-only loss against Keras' own `fit` of the same LoRA model.

Both train rank-4 LoRA factors on the first training cases of the shipped
`dish-restrictions` family with the same batch size, each in its own
process (so each peak memory is its own), one after the other:

- promptkit: `train_adapter` (loss on the label tokens, vocabulary
  projection at the label positions only), timed per step from its
  progress reports;
- Keras: `CausalLM.fit` on a LoRA-enabled copy of the same backbone, the
  loss masked to the same label tokens by sample weights (the projection
  runs at every position), timed per batch by a callback.

The first step of each, timed from the start (copying the weights, enabling
LoRA, tracing the step's graph), is reported apart. Writes
`bench/results/tune.md`; copy the table into `docs/benchmarks.md`.

Usage: python bench/bench_tune.py [--model NAME] [--examples N] [--batch-size B] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # Run as a script from anywhere.
from promptkit.models.gemma_model import GemmaModel
from promptkit.models.lora import (
    LabelledExample,
    TrainingProgress,
    TrainingSettings,
    copy_backbone,
    labelled_example,
    train_adapter,
)
from promptkit.templates import default_templates_dir, load_family_file, render_template


def _examples(model: GemmaModel, count: int) -> tuple[list[LabelledExample], list[LabelledExample]]:
    """The first `count` training cases and 8 validation cases of the shipped family, version 1."""
    family = load_family_file(default_templates_dir() / "dish-restrictions.yaml")
    text = family.versions[0].text

    def example(case_id: str, values: dict[str, str], labels: tuple[str, ...]) -> LabelledExample:
        prompt = render_template(text, values).text
        return labelled_example(model, case_id=case_id, prefix=prompt, labels=family.candidate_labels, acceptable=labels)

    chosen: dict[str, list[LabelledExample]] = {"train": [], "validation": []}
    for case in family.cases:
        split = case.id.split("-", 1)[0]
        if split in chosen and case.expect is not None:
            chosen[split].append(example(case.id, dict(case.values), case.expect.labels))
    return chosen["train"][:count], chosen["validation"][:8]


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux reports KiB.


def _run_promptkit(model: GemmaModel, train: list[LabelledExample], validation: list[LabelledExample], batch_size: int) -> dict[str, object]:
    marks = [time.perf_counter()]

    def progress(report: TrainingProgress) -> None:
        if report.validation_loss is None:
            marks.append(time.perf_counter())

    settings = TrainingSettings(rank=4, epochs=1, batch_size=batch_size, seed=0)
    train_adapter(model, train, validation, settings, progress=progress)
    steps = [b - a for a, b in itertools.pairwise(marks)]
    return {"first_step_s": steps[0], "step_s": sum(steps[1:]) / len(steps[1:]), "peak_rss_gb": _peak_rss_gb()}


def _run_keras(model: GemmaModel, train: list[LabelledExample], batch_size: int) -> dict[str, object]:
    import numpy as np

    from promptkit.models.backend import keras_modules

    keras, _, _ = keras_modules()
    marks = [time.perf_counter()]  # As for promptkit: the first step includes copying the weights.
    backbone = copy_backbone(model)
    backbone.enable_lora(4)
    causal_lm = type(model.causal_lm)(backbone=backbone, preprocessor=None)
    causal_lm.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        optimizer=keras.optimizers.Adam(learning_rate=5e-4),
        weighted_metrics=[],
    )
    width = -(-max(len(e.prefix_ids) + len(e.label_ids[e.answer]) for e in train) // 16) * 16
    token_ids = np.full((len(train), width), model.vocabulary.pad_id, dtype=np.int32)
    padding_mask = np.zeros_like(token_ids)
    targets = np.zeros_like(token_ids)
    weights = np.zeros(token_ids.shape, dtype=np.float32)
    for row, example in enumerate(train):
        sequence = [*example.prefix_ids, *example.label_ids[example.answer]]
        token_ids[row, : len(sequence)] = sequence
        padding_mask[row, : len(sequence)] = 1
        targets[row, : len(sequence) - 1] = sequence[1:]  # Position p predicts token p + 1.
        weights[row, len(example.prefix_ids) - 1 : len(sequence) - 1] = 1.0  # The label tokens only.

    class Timer(keras.callbacks.Callback):  # type: ignore[misc]
        def on_train_batch_end(self, batch: int, logs: object = None) -> None:
            marks.append(time.perf_counter())

    causal_lm.fit(
        x={"token_ids": token_ids, "padding_mask": padding_mask},
        y=targets,
        sample_weight=weights,
        batch_size=batch_size,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[Timer()],
    )
    steps = [b - a for a, b in itertools.pairwise(marks)]
    return {"first_step_s": steps[0], "step_s": sum(steps[1:]) / len(steps[1:]), "peak_rss_gb": _peak_rss_gb()}


def _measure(which: str, model_name: str | None, examples: int, batch_size: int) -> dict[str, object]:
    """One side, in this process: loads the model, trains, returns the timings."""
    from promptkit.models.loader import load_model

    model = load_model(model_name)
    train, validation = _examples(model, examples)
    if which == "promptkit":
        result = _run_promptkit(model, train, validation, batch_size)
    else:
        result = _run_keras(model, train, batch_size)
    lengths = [len(e.prefix_ids) + len(e.label_ids[e.answer]) for e in train]
    return {**result, "model": model.info.name, "dtype": model.info.dtype, "device": model.info.device,
            "tokens": f"{min(lengths)}–{max(lengths)}", "steps": -(-len(train) // batch_size)}


def main() -> None:
    """Runs both sides in subprocesses and writes the Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--examples", type=int, default=64, help="training cases per side")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("bench/results/tune.md"))
    parser.add_argument("--side", choices=("promptkit", "keras"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side is not None:
        print(json.dumps(_measure(args.side, args.model, args.examples, args.batch_size)))
        return
    results = {}
    for side in ("promptkit", "keras"):
        command = [sys.executable, __file__, "--side", side, "--examples", str(args.examples), "--batch-size", str(args.batch_size)]
        if args.model:
            command += ["--model", args.model]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        results[side] = json.loads(output.strip().splitlines()[-1])
    ours, theirs = results["promptkit"], results["keras"]
    epoch_steps = -(-490 // args.batch_size)  # The shipped training split.
    machine = f"{platform.node()} — {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {ours['device']}"
    lines = [
        "# Benchmarks: LoRA training step (`bench/bench_tune.py`)",
        "",
        f"Date: {datetime.date.today().isoformat()} · machine: {machine} · model: {ours['model']} ({ours['dtype']}) · "
        f"rank 4 · batch {args.batch_size} · {args.examples} training cases of dish-restrictions "
        f"({ours['steps']} steps, {ours['tokens']} tokens each)",
        "",
        "| measure | promptkit (label-only loss) | Keras `fit` | ratio |",
        "| --- | --- | --- | --- |",
        f"| first step, with copying the weights and tracing (s) | {ours['first_step_s']:.2f} | {theirs['first_step_s']:.2f} | "
        f"{ours['first_step_s'] / theirs['first_step_s']:.2f}× |",
        f"| later steps, mean (s) | {ours['step_s']:.2f} | {theirs['step_s']:.2f} | {ours['step_s'] / theirs['step_s']:.2f}× |",
        f"| an epoch of the shipped train split, {epoch_steps} steps at that rate (s) | {ours['step_s'] * epoch_steps:.0f} | "
        f"{theirs['step_s'] * epoch_steps:.0f} | |",
        f"| peak memory of the process (GB) | {ours['peak_rss_gb']:.2f} | {theirs['peak_rss_gb']:.2f} | |",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

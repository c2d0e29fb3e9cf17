"""Benchmarks model start-up and greedy decoding of the embedded Gemma.

Measures, in one run: cold start (GGUF conversion into an empty cache, in a
subprocess), warm start (loading the cached preset, in a subprocess, with and
without the huge-page malloc setting the Makefile exports), greedy
decode tokens/s at batch 1 and batch 8, and batch-1 tokens/s as a fraction
of the memory-bandwidth bound (bytes of weights read per token vs. the read
bandwidth measured in the same run, the fastest of three ways to read
1 GiB). Prints a markdown table.

    make bench, or .venv/bin/python bench/bench_generation.py [--skip-cold] [--dtype bfloat16]
        [--warm-starts N] [--only-warm-starts]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROMPT = json.loads((ROOT / "tests/models/data/codelab_prompts.jsonl").read_text().splitlines()[0])["prompt"]


def _timed_subprocess(code: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def read_bandwidths_gbps() -> dict[str, float]:
    """Best of five reads of 1 GiB of float32 each way, GB/s.

    A one-thread numpy sum was the only measure until 2026-12-01, when on a
    new host it read 7–9 GB/s, compute-bound, while TensorFlow's two-thread
    reads of the same bytes ran at 25–31 GB/s, so the bound is taken from
    the fastest way: what the machine can read, not what one loop does.

    Returns:
        `numpy sum` (one thread), `TensorFlow sum` and `TensorFlow matrix ×
        vector` (both cores), in GB/s.
    """
    from promptkit.models.backend import keras_modules

    _, _, tf = keras_modules()
    data = np.ones(1 << 28, dtype=np.float32)
    tensor = tf.constant(data)
    matrix, vector = tf.reshape(tensor, [-1, 1024]), tf.ones([1024, 1])
    reads = {
        "numpy sum": lambda: data.sum(),
        "TensorFlow sum": lambda: tf.reduce_sum(tensor).numpy(),
        "TensorFlow matrix × vector": lambda: tf.matmul(matrix, vector).numpy(),
    }
    speeds = {}
    for name, read in reads.items():
        read()
        speeds[name] = data.nbytes / min(_seconds(read) for _ in range(5)) / 1e9
    return speeds


def _seconds(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def decode_rate(model, batch: int, new_tokens: int, repeats: int = 3) -> float:
    """Warm greedy decode rate, new tokens per second summed over the batch.

    The best of `repeats` runs, like the bandwidth it is compared with: on a
    shared machine the slower runs measure the neighbours, not the code.
    """
    from promptkit.generation import GenerationSettings

    settings = GenerationSettings(max_new_tokens=new_tokens, stop_sequences=())
    prompts = [PROMPT] * batch
    model.generate(prompts, settings=settings)  # Trace and warm up.
    rates = []
    for _ in range(repeats):
        completions = model.generate(prompts, settings=settings)
        rates.append(sum(len(c.tokens) for c in completions) / completions[0].timings["decode_s"])
    return max(rates)


def keras_hub_rate(model, new_tokens: int) -> float:
    """KerasHub's own XLA-compiled `generate`, batch 1, best of 3, for reference."""
    length = len(model.tokenize(PROMPT)) + 1 + new_tokens
    model.causal_lm.generate(PROMPT, max_length=length, stop_token_ids=None)  # Compile.
    return max(
        new_tokens / _seconds(lambda: model.causal_lm.generate(PROMPT, max_length=length, stop_token_ids=None))
        for _ in range(3)
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-cold", action="store_true")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--warm-starts", type=int, default=3, metavar="N", help="fresh processes each way (default 3)")
    parser.add_argument("--only-warm-starts", action="store_true", help="stop after the warm starts")
    args = parser.parse_args()
    load = f"from promptkit.models.loader import load_model; load_model(dtype={args.dtype!r})"
    rows = []
    if not args.skip_cold:
        with tempfile.TemporaryDirectory() as cache:
            rows.append(("cold start: convert GGUF + load (s)", _timed_subprocess(load, {"PROMPTKIT_CACHE": cache})))
    # Page faults on fresh memory dominate a load on a VM and swing with the
    # host, so the median of three fresh processes, with their range; with
    # the huge-page malloc setting and without it, alternately, the order
    # swapped every pair so neither always follows the other.
    settings = {"huge pages": {"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}, "without huge pages": {"GLIBC_TUNABLES": ""}}
    times: dict[str, list[float]] = {label: [] for label in settings}
    for pair in range(args.warm_starts):
        for label in list(settings)[:: 1 if pair % 2 == 0 else -1]:
            times[label].append(_timed_subprocess(load, settings[label]))
    for label, seconds in times.items():
        print(f"warm starts, {label}: " + ", ".join(f"{s:.2f}" for s in seconds), flush=True)
        rows.append((f"warm start, {label}: python + import + load cached preset (s), median of {len(seconds)}",
                     statistics.median(seconds)))
        rows.append((f"warm start, {label}, fastest and slowest (s)", f"{min(seconds):.2f}–{max(seconds):.2f}"))
    if args.only_warm_starts:
        _print_table(rows, "warm starts only")
        return

    from promptkit.models.loader import load_model

    model = load_model(dtype=args.dtype)
    # Measured around the decode runs and the highest kept: a neighbour
    # loading the host's memory during one measurement once halved it.
    readings = [read_bandwidths_gbps()]
    batch1 = decode_rate(model, 1, args.new_tokens)
    readings.append(read_bandwidths_gbps())
    batch8 = decode_rate(model, 8, args.new_tokens)
    by_way = {name: max(reading[name] for reading in readings) for name in readings[0]}
    bandwidth = max(by_way.values())
    weight_bytes = sum(int(np.prod(w.shape)) * w.dtype_size for w in _weights(model))
    bound = bandwidth * 1e9 / weight_bytes
    reference = keras_hub_rate(model, args.new_tokens)
    rows += [
        *((f"read bandwidth, {name} (GB/s)", speed) for name, speed in by_way.items()),
        ("read bandwidth (GB/s): the fastest way, highest of the readings before and after batch 1", bandwidth),
        ("weights read per token (GB)", weight_bytes / 1e9),
        ("bandwidth bound, batch 1 (tokens/s)", bound),
        ("greedy decode, batch 1 (tokens/s)", batch1),
        ("batch 1 / bound", batch1 / bound),
        ("greedy decode, batch 8 (tokens/s, all rows)", batch8),
        ("batch 8 / batch 1 throughput", batch8 / batch1),
        ("KerasHub generate (XLA), batch 1, incl. prefill (tokens/s)", reference),
    ]
    _print_table(rows, f"dtype {args.dtype}, {len(model.tokenize(PROMPT)) + 1}-token prompt, {args.new_tokens} new tokens")


def _print_table(rows: list[tuple[str, float | str]], what: str) -> None:
    print(f"\nGeneration benchmark, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
          f"{os.cpu_count()} cores, {what}\n")
    print("| measure | value |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value if isinstance(value, str) else f'{value:.2f}'} |")


def _weights(model):
    class _Size:
        def __init__(self, variable):
            self.shape = variable.shape
            self.dtype_size = np.dtype(variable.dtype if variable.dtype != "bfloat16" else np.float16).itemsize

    return [_Size(v) for v in model.backbone.weights]


if __name__ == "__main__":
    main()

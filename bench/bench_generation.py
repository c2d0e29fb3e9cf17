"""Benchmarks model start-up and greedy decoding of the embedded Gemma.

Measures, in one run: cold start (GGUF conversion into an empty cache, in a
subprocess), warm start (loading the cached preset, in a subprocess, with and
without the huge-page malloc setting the Makefile exports), greedy
decode tokens/s at batch 1 and batch 8, and batch-1 tokens/s as a fraction
of the memory-bandwidth bound (bytes of weights read per token vs. a numpy
read-bandwidth measurement taken in the same run). Prints a markdown table.

    make bench, or .venv/bin/python bench/bench_generation.py [--skip-cold] [--dtype bfloat16]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
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


def read_bandwidth_gbps() -> float:
    """Best of five sums over 1 GiB of float32: the read bandwidth, GB/s."""
    data = np.ones(1 << 28, dtype=np.float32)
    best = min(_seconds(lambda: data.sum()) for _ in range(5))
    return data.nbytes / best / 1e9


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
    args = parser.parse_args()
    load = f"from promptkit.models.loader import load_model; load_model(dtype={args.dtype!r})"
    rows = []
    if not args.skip_cold:
        with tempfile.TemporaryDirectory() as cache:
            rows.append(("cold start: convert GGUF + load (s)", _timed_subprocess(load, {"PROMPTKIT_CACHE": cache})))
    # Page faults on fresh memory dominate a load on a VM and swing with the
    # host, so the median of three fresh processes, with their range; with
    # the malloc setting `make run` exports and without it, alternately.
    huge_pages = {"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}
    runs = [(_timed_subprocess(load, huge_pages), _timed_subprocess(load, {"GLIBC_TUNABLES": ""})) for _ in range(3)]
    for label, times in (("as `make run` starts it (huge pages)", [a for a, _ in runs]),
                         ("without huge pages", [b for _, b in runs])):
        times.sort()
        rows.append((f"warm start {label}: python + import + load cached preset (s), median of 3", times[1]))
        rows.append((f"warm start {label}, fastest and slowest of the 3 (s)", f"{times[0]:.2f}–{times[2]:.2f}"))

    from promptkit.models.loader import load_model

    model = load_model(dtype=args.dtype)
    # Measured around the decode runs and the highest kept: a neighbour
    # loading the host's memory during one measurement once halved it.
    bandwidths = [read_bandwidth_gbps()]
    batch1 = decode_rate(model, 1, args.new_tokens)
    bandwidths.append(read_bandwidth_gbps())
    batch8 = decode_rate(model, 8, args.new_tokens)
    bandwidth = max(bandwidths)
    weight_bytes = sum(int(np.prod(w.shape)) * w.dtype_size for w in _weights(model))
    bound = bandwidth * 1e9 / weight_bytes
    reference = keras_hub_rate(model, args.new_tokens)
    rows += [
        ("read bandwidth (GB/s), highest of the measurements before and after batch 1", bandwidth),
        ("weights read per token (GB)", weight_bytes / 1e9),
        ("bandwidth bound, batch 1 (tokens/s)", bound),
        ("greedy decode, batch 1 (tokens/s)", batch1),
        ("batch 1 / bound", batch1 / bound),
        ("greedy decode, batch 8 (tokens/s, all rows)", batch8),
        ("batch 8 / batch 1 throughput", batch8 / batch1),
        ("KerasHub generate (XLA), batch 1, incl. prefill (tokens/s)", reference),
    ]
    print(f"Generation benchmark, {datetime.date.today()}, {platform.machine()}, {os.cpu_count()} cores, "
          f"dtype {args.dtype}, {len(model.tokenize(PROMPT)) + 1}-token prompt, {args.new_tokens} new tokens\n")
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

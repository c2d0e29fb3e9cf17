"""Warming up a loaded Gemma: its compiled graphs traced and run once before a user's first request.

A graph's first use costs twice: tracing (building the 18-layer graph in
Python, 2–6 s each on a 2-core CPU) and its first run (TensorFlow's graph
optimisation, XLA's compile for the batch size, 2–4 s). Tracing only reads
the model's structure, so it runs without the model's lock; each first run
is one short model call that takes the lock for itself, so a user's request
waits behind one such call at most.

An exiting process lets the step under way end and starts no other, so no
thread is left inside TensorFlow while Python shuts down (see
`promptkit.models.gemma_model`).
"""

from __future__ import annotations

import atexit
import functools
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from promptkit.generation import GenerationSettings
from promptkit.models.gemma_model import GemmaModel

# Two prompts that share their first tokens, so a batch of both runs every
# decode graph a dashboard request needs: prefill, the extend of the rows'
# own tokens, and the greedy loop.
_PROMPTS = ("Warm-up: one two", "Warm-up: three four five")
_SETTINGS = GenerationSettings(max_new_tokens=2, stop_sequences=())
_SAMPLED_SETTINGS = GenerationSettings(max_new_tokens=2, temperature=1.0, stop_sequences=())
_EXIT_WAIT_S = 60.0
_exiting = threading.Event()
_step_lock = threading.Lock()  # held while one warm-up step runs
Result = TypeVar("Result")


class WarmUpStopped(Exception):
    """The process is exiting, so the warm-up stopped between two steps."""


@atexit.register
def _stop_at_exit() -> None:
    _exiting.set()
    _step_lock.acquire(timeout=_EXIT_WAIT_S)


def _step(work: Callable[[], Result]) -> Result:
    """Runs one warm-up step, unless the process is exiting."""
    with _step_lock:
        if _exiting.is_set():
            raise WarmUpStopped("the process is exiting")
        return work()


def warm_up_generation(model: GemmaModel, *, batch_sizes: tuple[int, ...] = (1,), greedy: bool = True) -> dict[str, float]:
    """Traces the decode graphs, then generates two tokens once per batch size.

    Args:
        model: a loaded `GemmaModel`.
        batch_sizes: batch sizes to run (1 or 2): XLA compiles the vocabulary
            product once per batch size, on its first run.
        greedy: warm the greedy loop (else the sampled single-token step).

    Returns:
        Seconds: `trace_s` (building the graphs) and `first_run_s` (their
        first runs).

    Raises:
        WarmUpStopped: the process began to exit.
    """
    started = time.perf_counter()
    graphs = model.graphs
    # One prompt is prefilled whole; only rows of different lengths extend.
    functions = (
        graphs.prefill, graphs.greedy_steps if greedy else graphs.step, *((graphs.extend,) if max(batch_sizes) > 1 else ())
    )
    for function in functions:
        _step(function.get_concrete_function)
    traced = time.perf_counter()
    settings = _SETTINGS if greedy else _SAMPLED_SETTINGS
    for size in batch_sizes:
        _step(functools.partial(model.generate, list(_PROMPTS[:size]), settings=settings))
    return {"trace_s": traced - started, "first_run_s": time.perf_counter() - traced}


def warm_up_salience(model: GemmaModel) -> dict[str, float]:
    """Traces the one-target gradient graph a salience view runs, then runs it once on a short text.

    Args:
        model: a loaded `GemmaModel`.

    Returns:
        Seconds: `trace_s` and `first_run_s`, as `warm_up_generation`.
    """
    started = time.perf_counter()
    # Every call into TensorFlow is inside a step, building the computer included.
    computer = _step(lambda: model.companions.gradients)
    _step(lambda: computer.one_target_graph().get_concrete_function())
    traced = time.perf_counter()
    ids = np.array([model.vocabulary.bos_id, *model.tokenize(_PROMPTS[0])], dtype=np.int32)
    target = np.zeros((1, len(ids)), dtype=bool)
    target[0, -2:] = True  # the last two tokens explained by the ones before
    _step(lambda: computer.gradients(ids, target))
    return {"trace_s": traced - started, "first_run_s": time.perf_counter() - traced}


def warm_up_in_background(model: GemmaModel) -> dict[str, float]:
    """What a dashboard warms up after the load: the salience graph and a two-row batch (Compare).

    Args:
        model: a loaded `GemmaModel` whose batch-1 decode graphs are warm already.

    Returns:
        Seconds per part: `salience_trace_s`, `salience_first_run_s`,
        `batch_2_first_run_s`.
    """
    salience = warm_up_salience(model)
    batch_2 = warm_up_generation(model, batch_sizes=(2,))
    return {
        "salience_trace_s": salience["trace_s"],
        "salience_first_run_s": salience["first_run_s"],
        "batch_2_first_run_s": batch_2["first_run_s"],
    }

"""Stability: do K seeded samples of one cell reach the same outcome?

A sample's outcome is the candidate label its named output line starts
with when the case has candidates, else whether all its checks passed. The
agreement rate is the share of samples that reach the most common outcome:
1.0 means every sample agreed, 1/K that none did.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Hashable, Sequence

from promptkit.evaluation.checks import find_line, matched_label, output_text, run_checks
from promptkit.generation import GenerationSettings
from promptkit.templates import Expectation

# Sampling temperature when a version suggests none (or greedy): stability
# is only measurable when the samples can differ.
DEFAULT_SAMPLE_TEMPERATURE = 0.7


def sample_outcome(expectation: Expectation | None, *, prompt: str, completion: str) -> Hashable:
    """The outcome a sample reached, comparable between samples.

    Args:
        expectation: the case's expectation (None: the whole completion).
        prompt: the rendered prompt.
        completion: the sampled completion.

    Returns:
        The matched label (or None when none matched) when the case has
        candidate labels; else a bool, all checks passed; else the
        stripped completion text itself.
    """
    if expectation is None:
        return completion.strip()
    if expectation.candidates or expectation.labels:
        text = output_text(prompt, completion)
        subject = text if expectation.line is None else find_line(text, expectation.line)
        return None if subject is None else matched_label(subject, expectation.candidates or expectation.labels)
    checks = run_checks(expectation, prompt=prompt, completion=completion)
    if checks:
        return all(check.passed for check in checks)
    return completion.strip()


def agreement_rate(outcomes: Sequence[Hashable]) -> float | None:
    """Share of outcomes equal to the most common one.

    Args:
        outcomes: one per sample.

    Returns:
        A rate in [1/K, 1], or None for no samples.
    """
    if not outcomes:
        return None
    return collections.Counter(outcomes).most_common(1)[0][1] / len(outcomes)


def sample_settings(base: GenerationSettings, *, samples: int, temperature: float | None = None) -> list[GenerationSettings]:
    """One sampling setting per seed 0..K-1, derived from a version's settings.

    Args:
        base: the version's settings (length limit, stop sequences).
        samples: K.
        temperature: sampling temperature; defaults to the base's when it
            samples, else `DEFAULT_SAMPLE_TEMPERATURE`.

    Returns:
        K settings differing only in seed.
    """
    if temperature is None:
        temperature = base.temperature if base.temperature > 0 else DEFAULT_SAMPLE_TEMPERATURE
    return [dataclasses.replace(base, temperature=temperature, seed=seed) for seed in range(samples)]

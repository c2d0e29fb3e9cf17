"""Calibration of label probabilities: a reliability curve and the expected calibration error.

A classifier is calibrated when, of the cases it gives its likeliest label
a probability near p, a share near p is right. The curve bins the cases by
that top probability (equal-width bins over [0, 1]) and sets each bin's
mean probability against the share of its cases whose likeliest label is
acceptable; the expected calibration error (ECE) is the case-weighted mean
gap between the two.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

DEFAULT_BINS = 10


@dataclasses.dataclass(frozen=True)
class ReliabilityBin:
    """One bin of the reliability curve.

    Attributes:
        lower: the bin's lowest top probability (included).
        upper: its highest (excluded, but 1.0 falls in the last bin).
        count: cases in it.
        mean_probability: mean top probability of those cases.
        observed_frequency: share of them whose likeliest label is acceptable.
    """

    lower: float
    upper: float
    count: int
    mean_probability: float
    observed_frequency: float


@dataclasses.dataclass(frozen=True)
class Calibration:
    """A reliability curve and its expected calibration error.

    Attributes:
        bins: the non-empty bins, lowest first.
        expected_calibration_error: `Σ count/n · |observed − mean probability|` over the bins.
    """

    bins: tuple[ReliabilityBin, ...]
    expected_calibration_error: float


def reliability(
    top_probabilities: Sequence[float], correct: Sequence[bool], *, bins: int = DEFAULT_BINS
) -> Calibration | None:
    """Bins cases by their likeliest label's probability against whether that label was right.

    Args:
        top_probabilities: per case, the probability of its likeliest label.
        correct: per case, whether that label is acceptable.
        bins: equal-width bins over [0, 1].

    Returns:
        The curve and its ECE, or None when there are no cases.
    """
    if not top_probabilities:
        return None
    probabilities = np.clip(np.asarray(top_probabilities, dtype=np.float64), 0.0, 1.0)
    right = np.asarray(correct, dtype=np.float64)
    # Bin i holds [i / bins, (i + 1) / bins); a probability of 1 goes in the last bin.
    index = np.minimum((probabilities * bins).astype(int), bins - 1)
    found = []
    error = 0.0
    for number in range(bins):
        members = index == number
        count = int(members.sum())
        if not count:
            continue
        mean_probability = float(probabilities[members].mean())
        observed = float(right[members].mean())
        error += count / len(probabilities) * abs(observed - mean_probability)
        found.append(ReliabilityBin(number / bins, (number + 1) / bins, count, mean_probability, observed))
    return Calibration(bins=tuple(found), expected_calibration_error=error)


def calibration_from_json(data: Mapping[str, Any] | None) -> Calibration | None:
    """A calibration as `dataclasses.asdict` wrote it (stored metrics, `tune --json`), or None."""
    if not data:
        return None
    return Calibration(
        bins=tuple(ReliabilityBin(**entry) for entry in data["bins"]),
        expected_calibration_error=float(data["expected_calibration_error"]),
    )

"""Reliability curves and expected calibration error, against values worked out by hand."""

from __future__ import annotations

import dataclasses

import pytest

from promptkit.evaluation.calibration import ReliabilityBin, reliability
from promptkit.evaluation.outcomes import classifier_metrics


def test_cases_are_binned_by_their_top_probability() -> None:
    # Bins of width 0.5: [0.5, 1.0] gets 0.6, 0.7, 0.9 and 1.0; [0, 0.5) gets 0.4.
    curve = reliability([0.6, 0.7, 0.9, 1.0, 0.4], [True, False, True, True, False], bins=2)
    assert curve is not None
    assert curve.bins == (
        ReliabilityBin(0.0, 0.5, 1, pytest.approx(0.4), 0.0),
        ReliabilityBin(0.5, 1.0, 4, pytest.approx(0.8), 0.75),
    )
    # ECE = 1/5 · |0 − 0.4| + 4/5 · |0.75 − 0.8| = 0.08 + 0.04.
    assert curve.expected_calibration_error == pytest.approx(0.12)


def test_a_calibrated_classifier_has_no_error_and_an_overconfident_one_has() -> None:
    calibrated = reliability([0.75] * 4, [True, True, True, False])
    assert calibrated is not None and calibrated.expected_calibration_error == pytest.approx(0.0)
    assert [(b.lower, b.upper, b.count) for b in calibrated.bins] == [(0.7, 0.8, 4)]
    overconfident = reliability([0.95] * 4, [True, False, True, False])
    assert overconfident is not None and overconfident.expected_calibration_error == pytest.approx(0.45)


def test_no_cases_have_no_curve() -> None:
    assert reliability([], []) is None


def test_classifier_metrics_carry_the_curve_of_the_likeliest_label() -> None:
    likelihoods = [{"Avoid": 0.9, "Good": 0.1}, {"Avoid": 0.3, "Good": 0.7}, {"Avoid": 0.65, "Good": 0.35}]
    metrics = classifier_metrics([("Avoid",), ("Avoid",), ("Good",)], likelihoods, labels=("Avoid", "Good"))
    assert metrics.calibration is not None
    # Top probabilities 0.9 (right), 0.7 (wrong), 0.65 (wrong), in bins [0.9, 1), [0.7, 0.8), [0.6, 0.7).
    assert [(b.count, b.observed_frequency) for b in metrics.calibration.bins] == [(1, 0.0), (1, 0.0), (1, 1.0)]
    assert metrics.calibration.expected_calibration_error == pytest.approx((0.65 + 0.7 + 0.1) / 3)
    data = dataclasses.asdict(metrics)
    assert data["calibration"]["expected_calibration_error"] == pytest.approx(0.4833333)
    assert data["calibration"]["bins"][0] == {
        "lower": 0.6, "upper": 0.7, "count": 1, "mean_probability": 0.65, "observed_frequency": 0.0,
    }

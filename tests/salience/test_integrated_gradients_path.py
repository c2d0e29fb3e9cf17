"""The path of integrated gradients, in pure numpy: points, weights, baselines, completeness."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from promptkit.models.integrated_gradients_path import (
    BASELINES,
    check_path_settings,
    path_points,
    path_result,
    path_rows,
    path_start,
)


def test_the_path_module_imports_no_tensorflow():
    code = "import sys, promptkit.models.integrated_gradients_path; print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


@pytest.mark.parametrize("baseline", BASELINES)
def test_the_weights_integrate_over_the_unit_interval(baseline):
    alphas, weights = path_points(256, baseline)
    assert alphas.shape == weights.shape == (256,)
    assert (np.diff(alphas) > 0).all() and alphas[0] > 0 and alphas[-1] < 1
    assert weights.sum() == pytest.approx(1.0, rel=1e-3)  # ∫₀¹ 1 dα
    assert (weights * alphas).sum() == pytest.approx(0.5, rel=1e-3)  # ∫₀¹ α dα


def test_the_pad_baseline_keeps_the_plain_midpoint_rule():
    alphas, weights = path_points(4, "pad")
    np.testing.assert_allclose(alphas, [0.125, 0.375, 0.625, 0.875])
    np.testing.assert_allclose(weights, 0.25)


def test_the_zero_baseline_spends_half_its_points_at_tiny_alphas():
    # Gemma's nested RMSNorms change the loss from α ≈ 1e-17 on: a uniform grid would miss that.
    alphas, _ = path_points(16, "zero")
    assert (alphas < 1e-3).sum() >= 6 and alphas[0] < 1e-14


def test_the_baseline_keeps_bos_and_replaces_every_other_token():
    embeddings = np.arange(12, dtype=np.float32).reshape(3, 4)
    zero = path_start(embeddings, None)
    np.testing.assert_array_equal(zero[0], embeddings[0])
    assert zero.dtype == np.float32 and not zero[1:].any()
    pad = path_start(embeddings, np.full(4, 7.0))
    np.testing.assert_array_equal(pad[0], embeddings[0])
    np.testing.assert_array_equal(pad[1:], 7.0)


def test_path_rows_run_from_the_baseline_to_the_input():
    start, embeddings = np.zeros((2, 3), np.float32), np.ones((2, 3), np.float32)
    rows = path_rows(start, embeddings, np.array([0.0, 0.25, 1.0]))
    assert rows.shape == (3, 2, 3) and rows.dtype == np.float32
    np.testing.assert_array_equal(rows[:, 0, 0], [0.0, 0.25, 1.0])


def test_a_linear_loss_is_attributed_completely():
    # For f(x) = Σ w·x the gradient is w everywhere, so the attributions sum to f(x) − f(start) exactly.
    rng = np.random.default_rng(0)
    w, embeddings = rng.normal(size=(5, 3)), rng.normal(size=(5, 3)).astype(np.float32)
    start = path_start(embeddings, None)
    integrals = w[None]  # ∫₀¹ w dα
    loss, baseline_loss = np.array([(w * embeddings).sum()]), np.array([(w * start).sum()])
    result = path_result(integrals, embeddings, start, loss, baseline_loss)
    assert result.attributions.shape == (1, 5) and result.attributions[0, 0] == 0.0  # <bos> is on both ends.
    assert result.completeness_error[0] == pytest.approx(abs(result.attributions.sum() - (loss - baseline_loss)[0]))
    assert result.completeness_error[0] < 1e-5


@pytest.mark.parametrize(
    ("settings", "message"),
    [({"steps": 0, "batch_size": 1, "baseline": "zero"}, "at least 1"), ({"steps": 1, "batch_size": 1, "baseline": "unk"}, "'zero' or 'pad'")],
)
def test_bad_path_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        check_path_settings(**settings)

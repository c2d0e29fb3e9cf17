"""Gradients against the model itself: logits, finite differences, causality, batching, IG."""

from __future__ import annotations

import numpy as np
import pytest

from promptkit.models.gradients import GradientComputer

PROMPT = "Taste-likes: Cheese\nTaste-dislikes: Can't eat eggs\nAnalysis:"
TARGET = " it has eggs.\nRecommendation: Avoid."


def _sequence(model):
    prompt, target = model.tokenize(PROMPT), model.tokenize(TARGET)
    ids = np.array([model.vocabulary.bos_id, *prompt, *target], dtype=np.int32)
    return ids, 1 + len(prompt)


def _masks(length: int, first_target: int) -> np.ndarray:
    masks = np.zeros((3, length), dtype=bool)
    masks[0, first_target:] = True
    masks[1, first_target : first_target + 3] = True
    masks[2, length - 4 : length - 1] = True
    return masks


def test_forward_logits_equal_causal_lm(tiny_model):
    ids, _ = _sequence(tiny_model)
    ours = GradientComputer(tiny_model).forward_logits(ids)
    theirs = tiny_model.causal_lm({"token_ids": ids[None], "padding_mask": np.ones((1, len(ids)), np.int32)})
    np.testing.assert_allclose(ours, np.asarray(theirs)[0], atol=1e-5)


def test_gradient_matches_central_differences(tiny_model):
    computer = GradientComputer(tiny_model)
    ids, first = _sequence(tiny_model)
    mask = _masks(len(ids), first)[:1]
    result = computer.gradients(ids, mask)
    rng = np.random.default_rng(0)
    for _ in range(3):
        direction = rng.normal(size=result.embeddings.shape).astype(np.float32)
        direction /= np.linalg.norm(direction)
        eps = 1e-2
        rows = np.stack([result.embeddings + eps * direction, result.embeddings - eps * direction])
        plus, minus = computer.losses(rows, ids, np.repeat(mask, 2, 0))
        numeric = (plus - minus) / (2 * eps)
        analytic = float(np.sum(result.gradients[0] * direction))
        assert numeric == pytest.approx(analytic, rel=3e-2, abs=3e-3)


def test_loss_is_sum_of_target_negative_log_probs(tiny_model):
    computer = GradientComputer(tiny_model)
    ids, first = _sequence(tiny_model)
    logits = computer.forward_logits(ids)
    log_probs = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)) - logits.max(-1, keepdims=True)
    mask = _masks(len(ids), first)[1:2]
    expected = -sum(log_probs[t - 1, ids[t]] for t in np.flatnonzero(mask[0]))
    assert computer.gradients(ids, mask).losses[0] == pytest.approx(expected, rel=1e-4)


def test_grad_l2_is_zero_after_the_target_and_positive_before(tiny_model):
    computer = GradientComputer(tiny_model)
    ids, first = _sequence(tiny_model)
    masks = _masks(len(ids), first)
    norms = np.linalg.norm(computer.gradients(ids, masks).gradients, axis=-1)
    assert (norms >= 0).all()
    for row, mask in zip(norms, masks):
        last = np.flatnonzero(mask)[-1]
        assert np.all(row[last:] == 0.0)  # The last target token and later feed no target prediction.
        assert row[last - 1] > 0


def test_batched_targets_equal_one_at_a_time(tiny_model):
    computer = GradientComputer(tiny_model)
    ids, first = _sequence(tiny_model)
    masks = _masks(len(ids), first)
    batched = computer.gradients(ids, masks)
    for row, mask in enumerate(masks):
        single = computer.gradients(ids, mask[None])
        np.testing.assert_allclose(batched.gradients[row], single.gradients[0], rtol=1e-3, atol=2e-5)
        assert batched.losses[row] == pytest.approx(single.losses[0], rel=1e-5)


def test_new_lengths_do_not_retrace_and_each_target_count_traces_once(tiny_gemma3):
    computer = GradientComputer(tiny_gemma3)
    ids, first = _sequence(tiny_gemma3)
    masks = _masks(len(ids), first)
    computer.gradients(ids, masks[:1])
    traced = computer.trace_count
    computer.gradients(ids[:-2], masks[1:2, :-2])
    computer.gradients(np.concatenate([ids, ids[1:]]), np.pad(masks[:1], ((0, 0), (0, len(ids) - 1))))
    assert computer.trace_count == traced
    computer.gradients(ids, masks)  # The backward passes are unrolled per target count.
    assert computer.trace_count == traced + 1
    computer.gradients(ids[:-2], masks[:, :-2])
    assert computer.trace_count == traced + 1


def test_integrated_gradients_pad_baseline_error_shrinks_with_steps(tiny_model):
    computer = GradientComputer(tiny_model)
    ids, first = _sequence(tiny_model)
    masks = _masks(len(ids), first)[:2]
    errors = [
        computer.integrated_gradients(ids, masks, steps=steps, batch_size=16, baseline="pad").completeness_error
        for steps in (2, 8, 32)
    ]
    assert np.all(errors[2] < errors[0])
    assert np.all(errors[2] < 0.05)


def test_integrated_gradients_zero_baseline_error_shrinks_with_steps(tiny_model):
    # The loss changes over α from 1e-17 to 1 here, in features a tenth of a
    # decade wide, so below ~128 steps the error is not yet in its asymptotic regime.
    computer = GradientComputer(tiny_model)
    ids, first = _sequence(tiny_model)
    masks = _masks(len(ids), first)[:2]
    results = [computer.integrated_gradients(ids, masks, steps=steps, batch_size=256) for steps in (16, 128, 1024)]
    errors = [result.completeness_error for result in results]
    assert np.all(errors[0] > errors[1]) and np.all(errors[1] > errors[2])
    difference = np.abs(results[-1].losses - results[-1].baseline_losses)
    assert np.all(errors[2] < 0.05 * difference)


def test_integrated_gradients_zero_baseline_reports_its_error(tiny_gemma3):
    computer = GradientComputer(tiny_gemma3)
    ids, first = _sequence(tiny_gemma3)
    result = computer.integrated_gradients(ids, _masks(len(ids), first)[:1], steps=4)
    expected = abs(result.attributions.sum() - (result.losses[0] - result.baseline_losses[0]))
    assert result.completeness_error[0] == pytest.approx(expected, rel=1e-5)
    assert result.attributions[0, 0] == 0.0  # <bos> keeps its embedding in the baseline.

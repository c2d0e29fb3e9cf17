"""Salience on the real embedded Gemma 3 270M (slow: marked real_model)."""

from __future__ import annotations

import numpy as np
import pytest

from promptkit.salience import LinePrefix, SalienceEngine

pytestmark = pytest.mark.real_model

PROMPT = (
    "Analyze a menu item in a restaurant.\n\nTaste-likes: I've a sweet-tooth\n"
    "Taste-dislikes: Don't like onions or garlic\nSuggestion: Onion soup\n"
    "Analysis: it has cooked onions in it, which you don't like.\nRecommendation: Avoid.\n\n"
    "Taste-likes: Cheese\nTaste-dislikes: Can't eat eggs\nSuggestion: Quiche Lorraine\nAnalysis:"
)
TARGET = " it has cheese in it, which you don't like.\nRecommendation: You have to try it."


def test_scores_are_finite_and_deterministic(embedded_model):
    first = SalienceEngine(embedded_model).explain(PROMPT, TARGET, selection=LinePrefix("Recommendation:"))
    second = SalienceEngine(embedded_model).explain(PROMPT, TARGET, selection=LinePrefix("Recommendation:"))
    assert np.isfinite(first.scores).all() and first.scores.max() > 0
    np.testing.assert_array_equal(first.scores, second.scores)
    assert np.isfinite(first.loss) and first.loss > 0


def test_target_line_prefix_is_context_not_target(embedded_model):
    engine = SalienceEngine(embedded_model)
    answer = engine.explain(PROMPT, TARGET, selection=LinePrefix("Recommendation:"))
    start, end = answer.target_span
    assert answer.text[start:end].strip() == "You have to try it."
    line_start = answer.text.rindex("Recommendation:")
    prefix_scores = [t.score for t in answer.tokens if line_start <= t.start < start]
    assert prefix_scores and all(s > 0 for s in prefix_scores)  # The prefix is context, with salience.
    whole = engine.explain(PROMPT, TARGET, selection=LinePrefix("Recommendation:", include_prefix=True))
    assert whole.target_span[0] == line_start and whole.loss > answer.loss


def test_signed_methods_on_the_real_model(embedded_model):
    engine = SalienceEngine(embedded_model)
    dot = engine.explain(PROMPT, TARGET, selection=LinePrefix("Recommendation:"), method="grad_dot_input")
    assert np.isfinite(dot.scores).all() and (dot.scores < 0).any() and (dot.scores > 0).any()
    ig = engine.explain(PROMPT, TARGET, selection=LinePrefix("Recommendation:"), method="integrated_gradients", steps=4)
    assert np.isfinite(ig.scores).all() and np.isfinite(ig.details["completeness_error"])


def test_contrast_prefers_avoid_after_an_analysis_of_a_dislike(embedded_model):
    engine = SalienceEngine(embedded_model)
    answer = LinePrefix("Recommendation:")
    first = engine.explain(PROMPT, TARGET, selection=answer, method="grad_dot_input", contrast="Avoid.")
    again = SalienceEngine(embedded_model).explain(PROMPT, TARGET, selection=answer, method="grad_dot_input", contrast="Avoid.")
    np.testing.assert_array_equal(first.scores, again.scores)
    assert np.isfinite(first.scores).all() and (first.scores < 0).any() and (first.scores > 0).any()
    # The analysis says "which you don't like"; the few-shot example answered that with "Avoid.".
    assert first.details["log_odds"] < -2
    plain = engine.explain(PROMPT, TARGET, selection=answer, method="grad_dot_input")
    assert first.loss == pytest.approx(plain.loss, rel=1e-4) and first.target_span == plain.target_span


def test_occlusion_finds_the_answers_line_prefix_the_strongest_support(embedded_model):
    engine = SalienceEngine(embedded_model)
    result = engine.explain_occlusion(PROMPT, TARGET, selection=LinePrefix("Recommendation:"), granularity="lines")
    segments = result.segments("lines")
    assert np.isfinite(segments.scores).all() and result.details["pieces"] == 12
    # Without "Recommendation:" right before it, "You have to try it." is far less likely.
    strongest = int(np.argmin(segments.scores))
    assert segments.segments[strongest].text == "Recommendation:" and segments.scores[strongest] < -5
    assert result.loss == pytest.approx(engine.explain(PROMPT, TARGET, selection=LinePrefix("Recommendation:")).loss, rel=1e-4)
    again = SalienceEngine(embedded_model).explain_occlusion(PROMPT, TARGET, selection=LinePrefix("Recommendation:"), granularity="lines")
    np.testing.assert_allclose(again.scores, result.scores, atol=1e-5)

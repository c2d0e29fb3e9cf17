"""Contrastive salience on tiny Gemma: a contrast is a target option of a gradient method; span vs foil, against plain results."""

from __future__ import annotations

import numpy as np
import pytest

from promptkit.errors import SalienceError
from promptkit.salience import CharRange, LinePrefix, SalienceEngine, WholeTarget
from promptkit.salience.contrast import foil_in_place, odds_sentence

PROMPT = "Taste-likes: Cheese\nTaste-dislikes: Can't eat eggs\nAnalysis:"
TARGET = " it has eggs.\nRecommendation: Avoid."
LINE = LinePrefix("Recommendation:", include_prefix=True)
FOIL = "Recommendation: You have to try it."


def test_a_foil_equal_to_the_span_is_a_user_error(tiny_gemma3):
    engine = SalienceEngine(tiny_gemma3)
    for foil in ("Recommendation: Avoid.", " Recommendation: Avoid.  "[:-2]):
        with pytest.raises(SalienceError, match="is the explained text itself"):
            engine.explain(PROMPT, TARGET, selection=LINE, contrast=foil)
    assert engine.gradient_calls == 0


def test_grad_dot_input_is_the_difference_of_the_two_plain_results(tiny_gemma3):
    engine = SalienceEngine(tiny_gemma3)
    contrast = engine.explain(PROMPT, TARGET, selection=LINE, method="grad_dot_input", contrast=FOIL)
    prefix = TARGET[: TARGET.index("Recommendation")]
    # The foil sequence tokenizes as the shared context followed by the foil's own tokens.
    assert tiny_gemma3.tokenize(prefix + FOIL) == tiny_gemma3.tokenize(prefix) + tiny_gemma3.tokenize(FOIL)
    plain_span = engine.explain(PROMPT, TARGET, selection=LINE, method="grad_dot_input")
    plain_foil = engine.explain(PROMPT, prefix + FOIL, selection=CharRange(len(prefix), len(prefix + FOIL)), method="grad_dot_input")
    shared = contrast.target_tokens[0]
    np.testing.assert_allclose(
        contrast.scores[:shared], plain_span.scores[:shared] - plain_foil.scores[:shared], rtol=1e-4, atol=1e-6
    )
    assert (contrast.scores[shared:] == 0).all()
    assert np.abs(contrast.scores[:shared]).max() > 0
    assert contrast.loss == pytest.approx(plain_span.loss, rel=1e-5)
    assert contrast.details["foil_loss"] == pytest.approx(plain_foil.loss, rel=1e-5)
    assert contrast.details["log_odds"] == pytest.approx(plain_foil.loss - plain_span.loss, rel=1e-4)
    assert contrast.target_span == plain_span.target_span and contrast.text == PROMPT + TARGET
    assert contrast.params == {"contrast": FOIL} and contrast.signed


def test_grad_l2_is_the_norm_of_the_gradient_difference(tiny_gemma3):
    from promptkit.models.gradients import GradientComputer

    contrast = SalienceEngine(tiny_gemma3).explain(PROMPT, TARGET, method="grad_l2", contrast=" Maybe.")
    backend = GradientComputer(tiny_gemma3)
    context = [tiny_gemma3.vocabulary.bos_id, *tiny_gemma3.tokenize(PROMPT)]
    gradients = []
    for continuation in (tiny_gemma3.tokenize(TARGET), tiny_gemma3.tokenize(" Maybe.")):
        ids = np.array([*context, *continuation], dtype=np.int32)
        mask = np.zeros((1, len(ids)), dtype=bool)
        mask[0, len(context) :] = True
        gradients.append(backend.gradients(ids, mask).gradients[0, : len(context)])
    expected = np.linalg.norm(gradients[0] - gradients[1], axis=-1)[1:]
    np.testing.assert_allclose(contrast.scores[: len(context) - 1], expected, rtol=1e-4, atol=1e-7)
    assert not contrast.signed and (contrast.scores >= 0).all()


def test_contrasts_are_cached(tiny_gemma3):
    engine = SalienceEngine(tiny_gemma3)
    first = engine.explain(PROMPT, TARGET, selection=LINE, contrast=FOIL)
    assert engine.gradient_calls == 2  # The span's sequence and the foil's.
    assert engine.explain(PROMPT, TARGET, selection=LINE, contrast=FOIL) is first
    assert engine.gradient_calls == 2
    first.segments("parts", parts=()), first.segments("lines")  # Re-aggregation needs no model call.
    assert engine.gradient_calls == 2
    plain = engine.explain(PROMPT, TARGET, selection=LINE)  # The same span without a contrast is another result.
    assert engine.gradient_calls == 3 and plain is not first and "contrast" not in plain.params
    assert engine.explain(PROMPT, TARGET, selection=LINE, contrast=" Maybe.") is not first
    assert engine.gradient_calls == 5


@pytest.mark.parametrize(
    ("foil", "selection", "method", "message"),
    [
        (FOIL, LINE, "integrated_gradients", "grad_l2 and grad_dot_input"),
        (FOIL, LINE, "occlusion", "grad_l2 and grad_dot_input, not occlusion"),
        ("  ", LINE, "grad_l2", "contrast text is empty"),
        (FOIL, LinePrefix("Verdict:"), "grad_l2", "No line"),
        (None, WholeTarget(), "grad_l2", "context"),  # None: a foil longer than the context.
    ],
)
def test_bad_contrasts_are_user_errors(tiny_gemma3, foil, selection, method, message):
    engine = SalienceEngine(tiny_gemma3)
    foil = " eggs" * tiny_gemma3.info.context_length if foil is None else foil
    with pytest.raises(SalienceError, match=message):
        engine.explain(PROMPT, TARGET, selection=selection, method=method, contrast=foil)
    assert engine.explain(PROMPT, TARGET, selection=LINE, contrast=FOIL).loss > 0  # Still usable.


def test_an_empty_prompt_or_target_is_a_user_error(tiny_gemma3):
    engine = SalienceEngine(tiny_gemma3)
    with pytest.raises(SalienceError, match="target is empty"):
        engine.explain(PROMPT, "", contrast=FOIL)
    with pytest.raises(SalienceError, match="prompt is empty"):
        engine.explain("", TARGET, contrast=FOIL)


def test_a_foil_takes_the_leading_space_of_the_span_it_replaces():
    assert foil_in_place(" You have to try it.", "Avoid.") == " Avoid."
    assert foil_in_place(" You", " Avoid") == " Avoid"
    assert foil_in_place("You", "Avoid") == "Avoid"
    assert foil_in_place("\n You", "Avoid") == "\n Avoid"


@pytest.mark.parametrize(
    ("log_odds", "sentence"),
    [
        (2.48, 'The model finds "Recommendation: Avoid." 12 times as likely as "Try it." here (log-odds 2.48 in its favour).'),
        (-0.7, 'The model finds "Try it." 2.0 times as likely as "Recommendation: Avoid." here (log-odds 0.70 in its favour).'),
        (400.0, 'The model finds "Recommendation: Avoid." over a million times as likely as "Try it." here (log-odds 400.00 in its favour).'),
    ],
)
def test_odds_sentence_names_the_favourite(log_odds, sentence):
    from promptkit.salience import SalienceResult, TokenScore

    prompt, target = "Q:", " x\nRecommendation: Avoid."
    tokens = (TokenScore("Q:", 0, 2, 0.0), TokenScore(" x\n", 2, 5, 0.0), TokenScore("Recommendation: Avoid.", 5, 27, 0.0))
    result = SalienceResult(
        model="m", prompt=prompt, target=target, method="grad_l2", signed=False, params={"contrast": " Try it."},
        tokens=tokens, target_tokens=(2, 3), loss=1.0, details={"foil_loss": 1.0 + log_odds, "log_odds": log_odds},
    )
    assert odds_sentence(result) == sentence


def test_odds_sentence_shortens_long_texts():
    from promptkit.salience import SalienceResult, TokenScore

    foil = "eggs " * 1000
    result = SalienceResult(
        model="m", prompt="Q:", target=" Avoid.", method="grad_l2", signed=False, params={"contrast": foil},
        tokens=(TokenScore("Q:", 0, 2, 0.0), TokenScore(" Avoid.", 2, 9, 0.0)), target_tokens=(1, 2), loss=1.0,
        details={"foil_loss": 3.0, "log_odds": 2.0},
    )
    sentence = odds_sentence(result)
    assert len(sentence) < 200 and '"eggs eggs' in sentence and '…"' in sentence and '"Avoid."' in sentence

"""Each salience method is declared once: the engine, the CLI and the figures read its declaration."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from promptkit.cli import build_parser
from promptkit.errors import SalienceError
from promptkit.salience import (
    LinePrefix,
    MethodOutput,
    SalienceEngine,
    SalienceMethod,
    contrast_method_names,
    get_method,
    method_names,
    score_title,
    text_heatmap_html,
)
from promptkit.salience import methods as registry

PROMPT = "Taste-likes: Cheese\nTaste-dislikes: Can't eat eggs\nSuggestion: Quiche\nAnalysis:"
TARGET = " it has eggs.\nRecommendation: Avoid."


def _salience_options() -> dict[str, object]:
    parser = build_parser()
    commands = next(action for action in parser._actions if action.dest == "command")
    salience = commands.choices["salience"]
    return {action.dest: action for action in salience._actions}


def _grad_l1(backend, token_ids, target_masks):
    result = backend.gradients(token_ids, target_masks)
    return MethodOutput(np.abs(result.gradients).sum(-1), result.losses, tuple({} for _ in result.losses))


GRAD_L1 = SalienceMethod(
    name="grad_l1", title="grad l1", signed=False, unit="gradient L1 norm", description="L1 norm of the loss gradient.",
    legend="Darker: more.", compute=_grad_l1,
)


def test_the_cli_offers_the_registered_methods():
    options = _salience_options()
    assert options["method"].choices == method_names() == ("grad_l2", "grad_dot_input", "integrated_gradients", "occlusion")
    assert options["method"].default in method_names()
    assert all(get_method(name).description in options["method"].help for name in method_names())
    assert ", ".join(contrast_method_names()) in options["contrast"].help


def test_contrast_is_allowed_as_declared():
    assert contrast_method_names() == ("grad_l2", "grad_dot_input")
    assert not get_method("integrated_gradients").allows_contrast and not get_method("occlusion").allows_contrast
    assert [get_method(name).needs_gradients for name in method_names()] == [True, True, True, False]


def test_figure_units_are_the_declared_ones():
    for name in method_names():
        unit = get_method(name).unit
        assert score_title(name, aggregation="mean") == f"{unit}, mean per piece"
    assert score_title("grad_l2") == "gradient norm, sum per piece"


def test_a_declaration_that_contrasts_must_read_gradients():
    with pytest.raises(ValueError, match="cannot explain a contrast"):
        dataclasses.replace(get_method("occlusion"), allows_contrast=True)
    with pytest.raises(ValueError, match="aggregations"):
        dataclasses.replace(GRAD_L1, aggregations=("median",))


def test_each_methods_sign_is_the_sign_of_its_scores(tiny_gemma3):
    engine = SalienceEngine(tiny_gemma3)
    line = LinePrefix("Recommendation:")
    for name in method_names():
        method = get_method(name)
        if method.needs_gradients:
            result = engine.explain(PROMPT, TARGET, selection=line, method=name, **({"steps": 4} if method.parameters else {}))
        else:
            result = engine.explain_occlusion(PROMPT, TARGET, selection=line, granularity="words")
        assert result.signed == method.signed and result.method == name
        assert (result.scores < 0).any() if method.signed else (result.scores >= 0).all(), name


def test_a_registered_method_is_offered_and_computed_from_its_declaration(tiny_gemma3, monkeypatch):
    from promptkit.models.gradients import GradientComputer

    monkeypatch.setitem(registry._REGISTRY, GRAD_L1.name, GRAD_L1)
    assert "grad_l1" in _salience_options()["method"].choices
    assert score_title("grad_l1") == "gradient L1 norm, sum per piece"
    engine = SalienceEngine(tiny_gemma3)
    result = engine.explain(PROMPT, TARGET, method="grad_l1")
    ids = np.array([tiny_gemma3.vocabulary.bos_id, *tiny_gemma3.tokenize(PROMPT), *tiny_gemma3.tokenize(TARGET)])
    mask = np.zeros((1, len(ids)), bool)
    mask[0, 1 + len(tiny_gemma3.tokenize(PROMPT)) :] = True
    raw = GradientComputer(tiny_gemma3).gradients(ids, mask)
    np.testing.assert_allclose(result.scores, np.abs(raw.gradients[0, 1:]).sum(-1), rtol=1e-5)
    assert not result.signed and result.method == "grad_l1"
    legend = text_heatmap_html(result.segments("words"), score=score_title("grad_l1"))
    assert "linear-gradient(to right, #ffffff 0.0%, #5b2c9f 100.0%)" in legend  # unsigned: white to purple, from 0
    with pytest.raises(SalienceError, match="works with grad_l2 and grad_dot_input, not grad_l1"):
        engine.explain(PROMPT, TARGET, method="grad_l1", contrast=" Maybe.")
    with pytest.raises(SalienceError, match="takes no parameter steps; it takes: none"):
        engine.explain(PROMPT, TARGET, method="grad_l1", steps=3)


def test_a_registered_method_that_allows_contrast_explains_one(tiny_gemma3, monkeypatch):
    monkeypatch.setitem(registry._REGISTRY, GRAD_L1.name, dataclasses.replace(GRAD_L1, allows_contrast=True))
    assert contrast_method_names() == ("grad_l2", "grad_dot_input", "grad_l1")
    with pytest.raises(SalienceError, match="works with grad_l2, grad_dot_input and grad_l1, not occlusion"):
        SalienceEngine(tiny_gemma3).explain(PROMPT, TARGET, method="occlusion", contrast=" Maybe.")
    engine = SalienceEngine(tiny_gemma3)
    l1 = engine.explain(PROMPT, TARGET, method="grad_l1", contrast=" Maybe.")
    l2 = engine.explain(PROMPT, TARGET, method="grad_l2", contrast=" Maybe.")
    shared = l1.target_tokens[0]
    # The same gradient difference under both norms: ‖d‖₂ ≤ ‖d‖₁ ≤ √H·‖d‖₂ at each shared token.
    hidden = tiny_gemma3.backbone.hidden_dim
    assert (l2.scores[:shared] <= l1.scores[:shared] + 1e-6).all()
    assert (l1.scores[:shared] <= np.sqrt(hidden) * l2.scores[:shared] + 1e-6).all()
    assert (l1.scores[shared:] == 0).all() and l1.params == {"contrast": " Maybe."}
    assert l1.details["log_odds"] == pytest.approx(l2.details["log_odds"])


def test_an_unknown_method_names_the_registered_ones():
    with pytest.raises(SalienceError, match="choose one of grad_l2, grad_dot_input, integrated_gradients, occlusion"):
        get_method("saliency")

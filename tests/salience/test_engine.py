"""Engine: target selection, caching without recomputation, export, figures."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest

from promptkit.errors import SalienceError
from promptkit.salience import (
    CharRange,
    LinePrefix,
    SalienceEngine,
    TokenRange,
    WholeTarget,
    ab_heatmap_html,
    part_shift_table,
    segments_csv,
    text_heatmap_html,
    to_dict,
    tokens_csv,
    top_segments_figure,
)

PROMPT = "Taste-likes: Cheese\nTaste-dislikes: Can't eat eggs\nAnalysis:"
TARGET = " it has eggs.\nRecommendation: Avoid."


def test_importing_salience_does_not_import_tensorflow():
    code = "import sys, promptkit.salience; print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_line_prefix_selects_the_answer_without_its_prefix(tiny_gemma3):
    engine = SalienceEngine(tiny_gemma3)
    result = engine.explain(PROMPT, TARGET, selection=LinePrefix("Recommendation:"))
    start, end = result.target_span
    assert result.text[start:end].strip() == "Avoid."
    whole = engine.explain(PROMPT, TARGET, selection=LinePrefix("Recommendation:", include_prefix=True))
    assert whole.text[slice(*whole.target_span)] == "Recommendation: Avoid."


def test_selections_by_chars_and_tokens_agree(tiny_gemma3):
    engine = SalienceEngine(tiny_gemma3)
    by_chars = engine.explain(PROMPT, TARGET, selection=CharRange(0, 3))
    first, last = by_chars.target_tokens
    prompt_tokens = len(tiny_gemma3.tokenize(PROMPT))
    by_tokens = engine.explain(PROMPT, TARGET, selection=TokenRange(first - prompt_tokens, last - prompt_tokens))
    assert by_tokens is by_chars  # Same span → same cache entry.


@pytest.mark.parametrize(
    ("target", "selection", "message"),
    [
        ("", WholeTarget(), "empty"),
        (TARGET, LinePrefix("Verdict:"), "No line"),
        (TARGET, CharRange(5, 5), "outside"),
        (TARGET, TokenRange(0, 999), "outside"),
    ],
)
def test_bad_targets_are_user_errors(tiny_gemma3, target, selection, message):
    with pytest.raises(SalienceError, match=message):
        SalienceEngine(tiny_gemma3).explain(PROMPT, target, selection=selection)


def test_too_long_is_a_user_error(tiny_gemma3):
    with pytest.raises(SalienceError, match="context"):
        SalienceEngine(tiny_gemma3).explain(PROMPT * 40, TARGET)


def test_regranularity_and_colours_never_recompute(tiny_gemma3):
    engine = SalienceEngine(tiny_gemma3)
    selections = [LinePrefix("Recommendation:"), WholeTarget()]
    results = engine.explain_many(PROMPT, TARGET, selections)
    assert engine.gradient_calls == 1  # Both spans in one batched call.
    for granularity in ("tokens", "words", "sentences", "lines", "paragraphs", "custom"):
        for aggregation in ("sum", "mean", "max"):
            segments = results[0].segments(granularity, aggregation=aggregation)
            assert 'data-piece' in text_heatmap_html(segments, gain=0.8, self_salience=True)
    assert engine.explain(PROMPT, TARGET, selection=WholeTarget()) is results[1]
    engine.explain_many(PROMPT, TARGET, [*selections, CharRange(0, 3)])
    assert engine.gradient_calls == 2  # Only the new span was computed.
    engine.explain(PROMPT, TARGET, method="grad_dot_input")
    assert engine.gradient_calls == 3


def test_engine_scores_match_the_method_definitions(tiny_gemma3):
    from promptkit.models.gradients import GradientComputer

    engine = SalienceEngine(tiny_gemma3)
    l2 = engine.explain(PROMPT, TARGET, method="grad_l2")
    dot = engine.explain(PROMPT, TARGET, method="grad_dot_input")
    ids = np.array([tiny_gemma3.vocabulary.bos_id, *tiny_gemma3.tokenize(PROMPT), *tiny_gemma3.tokenize(TARGET)])
    mask = np.zeros((1, len(ids)), bool)
    mask[0, 1 + len(tiny_gemma3.tokenize(PROMPT)) :] = True
    raw = GradientComputer(tiny_gemma3).gradients(ids, mask)
    np.testing.assert_allclose(l2.scores, np.linalg.norm(raw.gradients[0, 1:], axis=-1), rtol=1e-5)
    np.testing.assert_allclose(dot.scores, (raw.gradients[0, 1:] * raw.embeddings[1:]).sum(-1), rtol=1e-4, atol=1e-6)
    assert "".join(t.text for t in l2.tokens) == l2.text
    assert (l2.scores >= 0).all() and (dot.scores < 0).any()


def test_token_texts_keep_a_literal_meta_space(tiny_gemma3):
    prompt, target = "Likes:\u2581cheese\nAnalysis:", " no\u2581eggs."
    result = SalienceEngine(tiny_gemma3).explain(prompt, target)
    assert "".join(t.text for t in result.tokens) == prompt + target
    assert "".join(s.text for s in result.segments("words").segments) == prompt + target


def test_aggregation_sum_and_domain_exclude_the_target(tiny_gemma3):
    result = SalienceEngine(tiny_gemma3).explain(PROMPT, TARGET, selection=LinePrefix("Recommendation:"))
    segments = result.segments("words")
    assert segments.scores.sum() == pytest.approx(result.scores.sum())
    outside = np.abs(segments.scores[~segments.in_target]).max()
    assert segments.domain() == pytest.approx(outside)
    assert np.isnan(segments.normalized()[segments.in_target]).all()
    assert segments.domain(self_salience=True) >= segments.domain()


def test_exports_round_trip(tiny_gemma3):
    result = SalienceEngine(tiny_gemma3).explain(PROMPT, TARGET)
    segments = result.segments("lines")
    rows = list(csv.DictReader(io.StringIO(tokens_csv(result))))
    assert [row["text"] for row in rows] == [t.text for t in result.tokens]
    assert len(list(csv.DictReader(io.StringIO(segments_csv(segments))))) == len(segments.segments)
    data = json.loads(json.dumps(to_dict(result, segments)))
    assert data["text"] == PROMPT + TARGET and data["prompt_length"] == len(PROMPT)
    assert "".join(s["text"] for s in data["segments"]) == data["text"]


def test_figures_build_and_ab_shares_one_scale(tiny_gemma3):
    engine = SalienceEngine(tiny_gemma3)
    a = engine.explain(PROMPT, TARGET).segments("words")
    b = engine.explain(PROMPT.replace("eggs", "fish"), TARGET).segments("words")
    page = ab_heatmap_html(a, b, titles=("v1", "v2"))
    assert page.count('class="pk-colour-legend"') == 1 and page.count('class="pk-shaded-text"') == 2
    assert top_segments_figure(a, k=3).data[0].y is not None
    heat = text_heatmap_html(a)
    assert "Taste" in heat
    assert heat.count('class="pk-outline"') >= 1  # The target span is outlined.


def test_part_shift_table_groups_by_part_name(tiny_gemma3):
    class Part:
        def __init__(self, name, start, end):
            self.name, self.kind, self.start, self.end = name, "literal", start, end

    engine = SalienceEngine(tiny_gemma3)
    prompt_b = PROMPT.replace("Cheese", "Brie")
    parts_a = [Part("likes", 0, 19), Part("rest", 19, len(PROMPT))]
    parts_b = [Part("likes", 0, 17), Part("rest", 17, len(prompt_b))]
    a = engine.explain(PROMPT, TARGET).segments("parts", parts=parts_a)
    b = engine.explain(prompt_b, TARGET).segments("parts", parts=parts_b)
    table = part_shift_table(a, b)
    assert {row["part"] for row in table} == {"likes", "rest"}
    assert sum(row["share_a"] for row in table) == pytest.approx(1.0)

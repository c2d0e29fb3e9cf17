"""Token-by-token matrices: each row is the one-token explanation, spans are sums of rows, attention rows are the model's weights."""

from __future__ import annotations

import csv
import html
import io

import numpy as np
import pytest

from promptkit.errors import SalienceError
from promptkit.models.scoring import ContinuationScorer
from promptkit.salience import (
    ATTENTION,
    CharRange,
    LinePrefix,
    SalienceEngine,
    TokenRange,
    attention_layers,
    get_method,
    matrix_csv,
    matrix_method_names,
    matrix_to_dict,
    method_names,
    score_title,
    text_heatmap_html,
    token_matrix_figure,
)

PROMPT = "Taste-likes: Cheese\nTaste-dislikes: Can't eat eggs\nSuggestion: Quiche\nAnalysis:"
TARGET = " it has eggs.\nRecommendation: Avoid."
PARTS = [type("Part", (), {"name": name, "start": start, "end": end})() for name, start, end in
         [("likes", 0, 20), ("dislikes", 20, 51), ("rest", 51, len(PROMPT))]]


def test_attention_is_declared_for_matrices_only():
    attention = get_method(ATTENTION)
    assert not attention.signed and attention.unit == "attention weight" and not attention.needs_gradients
    assert attention.reads_attention and attention.parameters == {"layers": "all", "heads": "mean"}
    assert matrix_method_names() == ("grad_l2", "grad_dot_input", "integrated_gradients", "attention")
    assert ATTENTION not in method_names()  # It explains no span on its own.
    assert score_title(ATTENTION) == "attention weight, sum per piece"


@pytest.mark.parametrize(("method", "params"), [("grad_l2", {}), ("grad_dot_input", {}), ("integrated_gradients", {"steps": 4})])
def test_each_row_is_the_explanation_of_its_token(tiny_model, method, params):
    engine = SalienceEngine(tiny_model)
    matrix = engine.token_matrix(PROMPT, TARGET, method=method, **params)
    rows = len(tiny_model.tokenize(TARGET))
    assert matrix.values.shape == (rows, matrix.prompt_tokens + rows) and len(matrix.steps) == rows
    for row in range(rows):
        single = engine.explain(PROMPT, TARGET, selection=TokenRange(row, row + 1), method=method, **params)
        before = matrix.prompt_tokens + row
        np.testing.assert_allclose(matrix.values[row, :before], single.scores[:before], rtol=1e-4, atol=1e-6)
        assert np.isnan(matrix.values[row, before:]).all()  # absent, not zero
        assert (single.scores[before:] == 0).all()
    if method == "integrated_gradients":
        assert all("completeness_error" in details for details in matrix.details)


def test_grad_dot_input_spans_are_column_sums_of_their_rows(tiny_model):
    engine = SalienceEngine(tiny_model)
    matrix = engine.token_matrix(PROMPT, TARGET, method="grad_dot_input")
    for selection in (TokenRange(2, 7), LinePrefix("Recommendation:"), CharRange(0, len(TARGET))):
        span = engine.explain(PROMPT, TARGET, selection=selection, method="grad_dot_input")
        first, last = (index - matrix.prompt_tokens for index in span.target_tokens)
        column_sums = np.nansum(matrix.values[first:last], axis=0)
        np.testing.assert_allclose(column_sums, span.scores, rtol=1e-4, atol=1e-5)
    # Grouped into words, a row of a word is that word's explanation too.
    words = matrix.segments("tokens", rows="words")
    start = next(row.start for row in words.rows if row.text == " eggs.") - len(PROMPT)
    word = engine.explain(PROMPT, TARGET, selection=CharRange(start, start + len(" eggs.")), method="grad_dot_input")
    index = next(i for i, row in enumerate(words.rows) if row.text == " eggs.")
    present = words.present(index)
    np.testing.assert_allclose(words.values[index, :present], word.scores[:present], rtol=1e-4, atol=1e-5)


def test_attention_rows_are_the_models_weights(tiny_model):
    engine = SalienceEngine(tiny_model)
    matrix = engine.token_matrix(PROMPT, TARGET, method=ATTENTION)
    ids = np.array([tiny_model.vocabulary.bos_id, *tiny_model.tokenize(PROMPT), *tiny_model.tokenize(TARGET)])
    weights = tiny_model.companions.attention.read(ids, len(matrix.steps)).weights  # (layers, heads, rows, positions)
    assert (weights >= 0).all()
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)  # each head's weights over its keys
    expected = weights.mean(axis=1).mean(axis=0)
    for row in range(len(matrix.steps)):
        before = matrix.prompt_tokens + row
        values = matrix.values[row]
        assert (values[:before] >= 0).all() and np.isnan(values[before:]).all()
        # <bos> (position 0) is not a column, so a row sums to less than 1.
        np.testing.assert_allclose(values[:before], expected[row, 1 : before + 1], atol=1e-6)
        assert values[:before].sum() <= 1 + 1e-6


def test_attention_layers_and_heads_are_regrouped_without_the_model(tiny_gemma3):
    calls = []

    class CountingReader:
        num_layers = 2

        def read(self, token_ids, num_targets):
            calls.append(num_targets)
            return tiny_gemma3.companions.attention.read(token_ids, num_targets)

    engine = SalienceEngine(tiny_gemma3, attention=CountingReader())
    mean = engine.token_matrix(PROMPT, TARGET, method=ATTENTION)
    first = engine.token_matrix(PROMPT, TARGET, method=ATTENTION, layers="0")
    both = engine.token_matrix(PROMPT, TARGET, method=ATTENTION, layers="0-1", heads="max")
    second_max = engine.token_matrix(PROMPT, TARGET, method=ATTENTION, layers=1, heads="max")
    assert calls == [len(mean.steps)], "one pass whatever the layers and heads"
    ids = np.array([tiny_gemma3.vocabulary.bos_id, *tiny_gemma3.tokenize(PROMPT), *tiny_gemma3.tokenize(TARGET)])
    weights = tiny_gemma3.companions.attention.read(ids, len(mean.steps)).weights[..., 1:]
    last = mean.prompt_tokens + len(mean.steps) - 1
    np.testing.assert_allclose(first.values[-1, :last], weights[0].mean(0)[-1, :last], atol=1e-6)
    np.testing.assert_allclose(second_max.values[-1, :last], weights[1].max(0)[-1, :last], atol=1e-6)
    np.testing.assert_allclose(both.values[-1, :last], weights.max(1).mean(0)[-1, :last], atol=1e-6)
    assert first.params == {"layers": "0", "heads": "mean"}
    for bad, message in (("2", "not layers 0–1"), ("1-0", "not layers"), ("first", "give all")):
        with pytest.raises(SalienceError, match=message):
            engine.token_matrix(PROMPT, TARGET, method=ATTENTION, layers=bad)
    with pytest.raises(SalienceError, match="mean or max"):
        engine.token_matrix(PROMPT, TARGET, method=ATTENTION, heads="median")
    assert list(attention_layers("all", 3)) == [0, 1, 2] and list(attention_layers(" 1 - 2 ", 3)) == [1, 2]


def test_step_scores_per_row_and_per_piece(tiny_gemma3):
    engine = SalienceEngine(tiny_gemma3)
    prefix = [tiny_gemma3.vocabulary.bos_id, *tiny_gemma3.tokenize(PROMPT)]
    expected = ContinuationScorer(tiny_gemma3).step_scores(prefix, tiny_gemma3.tokenize(TARGET))
    for method in ("grad_l2", ATTENTION):
        matrix = engine.token_matrix(PROMPT, TARGET, method=method)
        assert [s.text for s in matrix.steps] == [s.text for s in expected]
        np.testing.assert_allclose([s.logprob for s in matrix.steps], [s.logprob for s in expected], atol=1e-5)
        assert [s.rank for s in matrix.steps] == [s.rank for s in expected]
        assert [a.id for a in matrix.steps[0].alternatives] == [a.id for a in expected[0].alternatives]
    lines = matrix.segments("lines", rows="lines")
    assert [row.text for row in lines.rows] == [" it has eggs.\n", "Recommendation: Avoid."]
    first_line = [s for s in expected if s.start < len(" it has eggs.\n")]
    weakest = min(first_line, key=lambda step: step.logprob)
    score = lines.row_scores[0]
    assert score.logprob == pytest.approx(sum(s.logprob for s in first_line), abs=1e-4)
    assert score.tokens == len(first_line) and score.rank == weakest.rank
    assert score.probability == pytest.approx(np.exp(score.logprob))


@pytest.mark.parametrize("granularity", ["words", "sentences", "lines", "paragraphs", "custom", "parts"])
@pytest.mark.parametrize("aggregation", ["sum", "mean", "max"])
def test_columns_regroup_at_every_granularity(tiny_gemma3, granularity, aggregation):
    matrix = SalienceEngine(tiny_gemma3).token_matrix(PROMPT, TARGET, method="grad_dot_input")
    grouped = matrix.segments(granularity, aggregation=aggregation, pattern=r"[:.]", parts=PARTS)
    assert "".join(column.text for column in grouped.columns) == PROMPT + TARGET
    assert any(column.start == len(PROMPT) for column in grouped.columns)  # the prompt's end is a cut
    assert [row.text for row in grouped.rows] == [token.text for token in matrix.row_tokens]
    for row in range(len(grouped.rows)):
        present = grouped.present(row)
        assert not np.isnan(grouped.values[row, :present]).any() and np.isnan(grouped.values[row, present:]).all()
        before = matrix.prompt_tokens + row
        tokens = matrix.tokens[:before]
        for index, column in enumerate(grouped.columns[:present]):
            inside = [matrix.values[row, j] for j, token in enumerate(tokens) if column.start <= token.start < column.end]
            combined = {"sum": np.sum, "mean": np.mean, "max": lambda v: max(v, key=abs)}[aggregation](inside) if inside else 0.0
            assert grouped.values[row, index] == pytest.approx(combined, abs=1e-9)
        # A column is present while some token of it precedes the row's token.
        assert grouped.columns[present - 1].start <= tokens[-1].start


def test_rows_regroup_with_the_row_aggregation(tiny_gemma3):
    matrix = SalienceEngine(tiny_gemma3).token_matrix(PROMPT, TARGET, method="grad_l2")
    by_token = matrix.segments("sentences")
    for how, combine in (("sum", np.nansum), ("mean", np.nanmean), ("max", np.nanmax)):
        lines = matrix.segments("sentences", rows="lines", row_aggregation=how)
        first_line = [i for i, row in enumerate(by_token.rows) if row.end <= len(PROMPT) + len(" it has eggs.\n")]
        present = lines.present(0)
        assert present == max(by_token.present(i) for i in first_line)
        with np.errstate(all="ignore"):
            expected = combine(by_token.values[first_line, :present], axis=0)
        np.testing.assert_allclose(lines.values[0, :present], expected, rtol=1e-9)


def test_matrices_are_cached_and_refuse_what_they_cannot_do(tiny_gemma3):
    engine = SalienceEngine(tiny_gemma3)
    first = engine.token_matrix(PROMPT, TARGET)
    calls = engine.gradient_calls
    assert calls == 2  # 12 rows, 8 per pass
    progress = []
    assert engine.token_matrix(PROMPT, TARGET, on_progress=lambda done, total: progress.append(done)) is first
    assert engine.gradient_calls == calls and progress == []
    fresh = SalienceEngine(tiny_gemma3)
    fresh.token_matrix(PROMPT, " Avoid.", on_progress=lambda done, total: progress.append((done, total)))
    assert progress == [(len(tiny_gemma3.tokenize(" Avoid.")),) * 2]
    with pytest.raises(SalienceError, match="token by token works with grad_l2"):
        engine.token_matrix(PROMPT, TARGET, method="occlusion")
    with pytest.raises(SalienceError, match="target is empty"):
        engine.token_matrix(PROMPT, "", method="grad_l2")
    with pytest.raises(SalienceError, match="takes no parameter layers"):
        engine.token_matrix(PROMPT, TARGET, method="grad_l2", layers="0")
    with pytest.raises(SalienceError, match="use token_matrix"):
        engine.explain(PROMPT, TARGET, method=ATTENTION)


def test_export_and_figures(tiny_gemma3):
    matrix = SalienceEngine(tiny_gemma3).token_matrix(PROMPT, TARGET, method=ATTENTION)
    grouped = matrix.segments("words", rows="words")
    data = matrix_to_dict(matrix, grouped)
    assert set(data) >= {"model", "method", "params", "text", "prompt_length", "sources", "targets", "matrix", "timings"}
    assert data["text"] == PROMPT + TARGET and data["prompt_length"] == len(PROMPT)
    assert "".join(s["text"] for s in data["sources"]) == data["text"]
    assert [data["text"][t["start"] : t["end"]] for t in data["targets"]] == [t["text"] for t in data["targets"]]
    assert all(set(t) >= {"probability", "logprob", "entropy", "rank", "alternatives"} for t in data["targets"])
    lengths = [len(row) for row in data["matrix"]]
    assert lengths == sorted(lengths) and lengths[0] >= 1
    for target, row in zip(data["targets"], data["matrix"]):
        # Row i covers the sources with a token before one of target i's (a word's own earlier tokens too).
        assert all(source["start"] < target["end"] for source in data["sources"][: len(row)])
        assert all(source["start"] >= target["start"] for source in data["sources"][len(row) :])
    table = list(csv.DictReader(io.StringIO(matrix_csv(grouped))))
    assert len(table) == sum(lengths) and table[0]["target_text"] == data["targets"][0]["text"]

    figure = token_matrix_figure(grouped, score=score_title(ATTENTION))
    heatmap, bars = figure.data
    assert heatmap.type == "heatmap" and bars.type == "bar"
    assert list(bars.x) == pytest.approx([t["probability"] for t in data["targets"]])
    hover = heatmap.hovertext[0][0]
    for piece in (grouped.rows[0], grouped.columns[0]):
        assert html.escape(piece.text.replace("\n", "\\n")[:78], quote=False) in hover and "score" in hover
    assert "score" not in heatmap.hovertext[0][-1]  # an absent cell has no score
    assert figure.layout.coloraxis.cmin == 0
    explanation = grouped.row_explanation(2)
    assert explanation.in_target.sum() == len(grouped.columns) - grouped.present(2)
    assert text_heatmap_html(explanation).count("data-piece=") == len(grouped.columns)

"""Figures: distinct bar names, labels safe and whole in every script, score titles."""

from __future__ import annotations

import numpy as np

from promptkit.salience import (
    Segment,
    SegmentScores,
    score_title,
    segment_names,
    text_heatmap_html,
    token_matrix_figure,
    top_segments_figure,
)
from promptkit.salience.token_matrix import RowScore, SegmentMatrix


def _scores(texts: list[str], labels: list[str] | None = None, *, signed: bool = False) -> SegmentScores:
    segments, start = [], 0
    for index, text in enumerate(texts):
        segments.append(Segment(text, start, start + len(text), (labels or [""] * len(texts))[index]))
        start += len(text)
    count = len(segments)
    return SegmentScores(tuple(segments), np.linspace(0.1, 1.0, count), np.zeros(count, bool), signed, np.ones(count, int))


def test_bar_names_are_part_names_or_opening_words_and_distinct():
    texts = ["Taste-likes: Cheese\nSuggestion: Quiche\n", "Now you:", "the", " the (#2)", " the", "\n"]
    labels = ["Suggestion: Quiche", "", "", "", "", ""]
    names = segment_names(_scores(texts, labels))
    assert names == ["Suggestion: Quiche", "Now you:", "the", "the (#2)", "the (#3)", "\\n"]
    figure = top_segments_figure(_scores(texts, labels), k=6, score="nats")
    assert sorted(figure.data[0].y) == sorted(names)
    assert figure.layout.xaxis.title.text == "nats"


def test_signed_bars_are_coloured_by_sign():
    scores = _scores(["a", "b", "c"], signed=True)
    scores.scores[:] = [-2.0, 1.0, -0.5]
    figure = top_segments_figure(scores, k=3)
    by_name = dict(zip(figure.data[0].y, figure.data[0].marker.color))
    # The heatmap's ends: supporting (negative) orange, opposing blue.
    assert by_name["a"] == by_name["c"] == "#c2410c" and by_name["b"] == "#1d4ed8"


def test_long_segment_names_are_shortened():
    (name,) = segment_names(_scores(["word " * 30]), length=12)
    assert name == "word word w…"


def test_score_titles_name_the_unit_and_the_aggregation():
    assert score_title("grad_l2") == "gradient norm, sum per piece"
    assert score_title("integrated_gradients", aggregation="max") == "nats of loss, max per piece"
    assert score_title("occlusion") == "nats of loss, sum per piece"
    legend = text_heatmap_html(_scores(["a b"]), score=score_title("grad_dot_input"))
    assert legend.count("nats of loss, sum per piece") == 1 + 1  # the colour bar and the piece's tooltip


def test_names_are_cut_between_grapheme_clusters_and_isolate_right_to_left_text():
    chef = "👩\u200d🍳"
    (name,) = segment_names(_scores(["ab" + chef + "cd"]), length=4)
    assert name == "ab" + chef + "…"  # the emoji sequence kept whole, not cut after 👩
    names = segment_names(_scores(["کتاب", " کتاب", "שלום", "ab"]))
    # Right-to-left names are bidi isolates, so a repeated Persian word keeps its order before the "(#2)".
    assert names == ["\u2068کتاب\u2069", "\u2068کتاب\u2069 (#2)", "\u2068שלום\u2069", "ab"]


def test_bar_labels_are_escaped_for_plotly():
    figure = top_segments_figure(_scores(["<b>bold</b>", " & more"]), k=2)
    assert sorted(figure.data[0].y) == ["&amp; more", "&lt;b&gt;bold&lt;/b&gt;"]


def _matrix(rows: list[str], columns: list[str]) -> SegmentMatrix:
    placed, start = [], 0
    for text in columns:
        placed.append(Segment(text, start, start + len(text)))
        start += len(text)
    prompt_length = placed[-len(rows)].start
    score = RowScore(logprob=-0.5, entropy=1.0, rank=1, alternatives=(), tokens=1)
    values = np.tril(np.ones((len(rows), len(columns))), k=len(columns) - len(rows) - 1)
    values[values == 0] = np.nan
    return SegmentMatrix(
        rows=tuple(placed[-len(rows):]), row_scores=(score,) * len(rows), columns=tuple(placed),
        column_tokens=np.ones(len(columns), int), values=values, signed=False, prompt_length=prompt_length,
    )


def test_matrix_labels_show_whole_characters_line_breaks_and_escaped_tags():
    columns = ["کتاب‌ها", " 👩\u200d🍳", "\r\n", "<i>", " 이", "这"]
    figure = token_matrix_figure(_matrix(columns[-2:], columns))
    ticks = list(figure.layout.xaxis.ticktext)
    # Zero-width joiners and non-joiners stay characters (no \u200d escapes); line breaks show as escapes.
    assert ticks == ["\u2068کتاب‌ها\u2069", " 👩\u200d🍳", "\\r\\n", "&lt;i&gt;", " 이", "这"]
    assert list(figure.layout.yaxis.ticktext) == [" 이", "这"]
    hover = figure.data[0].hovertext[1][0]
    assert hover.startswith("target 这 (p = 0.607)<br>source \u2068کتاب‌ها\u2069<br>score")

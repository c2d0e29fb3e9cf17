"""Figures: word wrapping of the text heatmap, distinct bar names, score titles."""

from __future__ import annotations

import numpy as np

from promptkit.salience import Segment, SegmentScores, score_title, segment_names, text_heatmap, top_segments_figure


def _scores(texts: list[str], labels: list[str] | None = None, *, signed: bool = False) -> SegmentScores:
    segments, start = [], 0
    for index, text in enumerate(texts):
        segments.append(Segment(text, start, start + len(text), (labels or [""] * len(texts))[index]))
        start += len(text)
    count = len(segments)
    return SegmentScores(tuple(segments), np.linspace(0.1, 1.0, count), np.zeros(count, bool), signed, np.ones(count, int))


def _rows(figure) -> list[str]:
    return ["".join(cell for cell in row).rstrip() for row in figure.data[0].text]


def test_rows_break_between_words_and_keep_every_character():
    text = "Taste-likes: Cheese and mushrooms. Taste-dislikes: Can't eat eggs.\nSuggestion: Quiche"
    rows = _rows(text_heatmap(_scores([text]), width=20))
    assert all(len(row) <= 20 for row in rows)
    assert [word for row in rows for word in row.split()] == text.split()  # No word cut, none lost or moved.
    assert rows[:3] == ["Taste-likes: Cheese", "and mushrooms.", "Taste-dislikes:"]


def test_a_row_may_end_exactly_on_a_word():
    assert _rows(text_heatmap(_scores(["xx aaaaaaa bb"]), width=10)) == ["xx aaaaaaa", "bb"]
    assert _rows(text_heatmap(_scores(["aaaaaaaaaa bb"]), width=10)) == ["aaaaaaaaaa", "bb"]


def test_a_word_longer_than_a_row_is_split():
    rows = _rows(text_heatmap(_scores(["ab " + "x" * 25 + " cd"]), width=10))
    assert rows == ["ab", "xxxxxxxxxx", "xxxxxxxxxx", "xxxxx cd"]


def test_bar_names_are_part_names_or_opening_words_and_distinct():
    texts = ["Taste-likes: Cheese\nSuggestion: Quiche\n", "Now you:", "the", " the (#2)", " the", "\n"]
    labels = ["Suggestion: Quiche", "", "", "", "", ""]
    names = segment_names(_scores(texts, labels))
    assert names == ["Suggestion: Quiche", "Now you:", "the", "the (#2)", "the (#3)", "'\\n'"]
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
    figure = text_heatmap(_scores(["a b"]), score=score_title("grad_dot_input"))
    assert "nats" in figure.layout.coloraxis.colorbar.title.text

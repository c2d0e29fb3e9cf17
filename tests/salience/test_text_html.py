"""Salience over the text as HTML: exact text in whole grapheme clusters, escaped, coloured on one scale."""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser

import numpy as np
import pytest

from promptkit.graphemes import grapheme_bounds
from promptkit.salience import GRANULARITIES, SegmentScores, ab_heatmap_html, segment_text, text_heatmap_html
from promptkit.salience.colours import SIGNED_SCALE, UNSIGNED_SCALE, score_colour


@dataclasses.dataclass(frozen=True)
class _Part:
    name: str
    start: int
    end: int

# Persian (with a zero-width non-joiner), Hebrew, Korean, Chinese, emoji sequences, CRLF and a tab.
MIXED = (
    "Menu: کتاب‌ها را خواندم. غذا؟\r\n"
    "שלום, זה מתכון טוב.\r\n\r\n"
    "이 요리는 맛있어요! 这道菜很好吃。\n"
    "Chef 👩‍🍳 and family 👨‍👩‍👧 like it 👍🏽\tdone é\u0301"
)


class _Pieces(HTMLParser):
    """Collects each `data-piece` span's text and attributes, and every tag seen."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[dict[str, str]] = []
        self.texts: list[str] = []
        self.tags: list[str] = []
        self._open: list[bool] = []
        self.outlined: list[bool] = []
        self._outline_depth = 0

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        self.tags.append(tag)
        is_piece = "data-piece" in attributes
        self._open.append(is_piece)
        if attributes.get("class") == "pk-outline":
            self._outline_depth += 1
            self._open[-1] = "outline"
        if is_piece:
            self.pieces.append(attributes)
            self.texts.append("")
            self.outlined.append(self._outline_depth > 0)

    def handle_endtag(self, tag):
        kind = self._open.pop()
        if kind == "outline":
            self._outline_depth -= 1

    def handle_data(self, data):
        if self._open and self._open[-1] is True:
            self.texts[-1] += data


def _parse(page: str) -> _Pieces:
    parser = _Pieces()
    parser.feed(page)
    parser.close()
    return parser


def _scored(text: str, granularity: str, *, signed: bool = False, target: tuple[int, int] | None = None) -> SegmentScores:
    """Segments of `text` with distinct scores; `tokens` start at every code point (emoji split, as byte tokens do)."""
    inside_emoji = text.find("\u200d🍳")  # A part that starts inside a cluster.
    parts = [_Part("instruction", 0, 12), _Part("example", 12, 40), _Part("chef", inside_emoji, len(text))]
    segments = segment_text(text, granularity, token_starts=range(len(text)), pattern=r"[.!。]", parts=parts, cuts=target or ())
    count = len(segments)
    scores = np.linspace(-1.0 if signed else 0.1, 2.0, count)
    in_target = np.array([target is not None and target[0] <= s.start and s.end <= target[1] for s in segments])
    return SegmentScores(tuple(segments), scores, in_target, signed, np.ones(count, int))


@pytest.mark.parametrize("granularity", GRANULARITIES)
def test_pieces_shown_are_the_exact_text_in_whole_grapheme_clusters(granularity):
    segments = _scored(MIXED, granularity)
    page = _parse(text_heatmap_html(segments))
    assert "".join(page.texts) == MIXED
    assert page.texts == [segment.text for segment in segments.segments]
    clusters = set(grapheme_bounds(MIXED))
    offsets = np.cumsum([len(text) for text in page.texts])
    assert set(offsets.tolist()) <= clusters  # No piece ends inside a cluster (👩‍🍳, 👍🏽, é + accent, CRLF).
    whole = ["👩\u200d🍳", "👨\u200d👩\u200d👧", "👍🏽", "\r\n", "é\u0301"]
    for cluster in whole:
        assert any(cluster in text for text in page.texts), cluster


def test_text_goes_in_one_block_whose_lines_take_their_own_direction():
    page = text_heatmap_html(_scored(MIXED, "words"))
    block = re.search(r'<div class="pk-shaded-text" style="([^"]*)"', page).group(1)
    assert "unicode-bidi: plaintext" in block and "white-space: pre-wrap" in block
    # No piece has horizontal padding, margin or border, which would stop letters joining across pieces.
    assert not re.search(r'data-piece[^>]*style="[^"]*(padding|margin|border)', page)
    assert "&#13;\n" in page  # The page holds the exact text: carriage returns are written as references.


def test_user_text_is_escaped_shown_not_run():
    text = 'Try <script>alert("x")</script> & <b>bold</b> "quoted"'
    page = text_heatmap_html(_scored(text, "words"), title="<i>title</i>", score="<u>unit</u>")
    parsed = _parse(page)
    assert "script" not in parsed.tags and "b" not in parsed.tags and "i" not in parsed.tags and "u" not in parsed.tags
    assert "".join(parsed.texts) == text
    assert "&lt;script&gt;" in page and "&lt;i&gt;title&lt;/i&gt;" in page and "&lt;u&gt;unit&lt;/u&gt;" in page
    assert "<script" not in page and "<b>" not in page
    assert any(piece["title"].startswith('<script>alert("x")</script>\nscore') for piece in parsed.pieces)  # shown as text


def test_tooltips_name_the_piece_its_part_and_its_score_with_the_unit():
    segments = _scored(MIXED, "parts")
    parsed = _parse(text_heatmap_html(segments, score="nats of loss, sum per piece"))
    first = parsed.pieces[0]
    assert first["title"] == f"instruction: {' '.join(MIXED[:12].split())}\nscore {segments.scores[0]:.4g} (nats of loss, sum per piece)"
    assert [float(piece["data-score"]) for piece in parsed.pieces] == pytest.approx(segments.scores.tolist(), rel=1e-5)


def _background(piece: dict[str, str]) -> str | None:
    match = re.search(r"background: (#[0-9a-f]{6})", piece.get("style", ""))
    return match.group(1) if match else None


@pytest.mark.parametrize("signed", [False, True])
def test_colours_follow_the_scores_on_the_scale(signed):
    segments = _scored("one two three four five six", "words", signed=signed)
    parsed = _parse(text_heatmap_html(segments, gain=0.0))
    colours = [_background(piece) for piece in parsed.pieces]
    scale = SIGNED_SCALE if signed else UNSIGNED_SCALE
    assert colours[-1] == scale[-1][1]  # The largest score takes the scale's end.
    if signed:
        assert colours[0] == score_colour(-0.5, signed=True, gain=0.0)  # −1 of a domain of 2
    for piece, colour in zip(parsed.pieces, colours):
        expected = score_colour(float(piece["data-score"]) / 2.0, signed=signed, gain=0.0)
        assert colour == expected
    # Larger scores, darker purples: the red, green and blue channels fall as the score grows.
    if not signed:
        channels = [int(colour[1:3], 16) for colour in colours]
        assert channels == sorted(channels, reverse=True) and len(set(channels)) == len(channels)


def test_the_explained_span_is_outlined_and_uncoloured_unless_self_salience():
    text = "Prompt words here. Answer: Avoid it."
    start = text.index("Avoid")
    segments = _scored(text, "words", target=(start, len(text)))
    page = text_heatmap_html(segments)
    parsed = _parse(page)
    outlined = [piece_text for piece_text, flag in zip(parsed.texts, parsed.outlined) if flag]
    assert outlined == ["Avoid", " it."]
    assert page.count('class="pk-outline"') == 1  # One outline around the whole span.
    target_piece = parsed.pieces[parsed.texts.index("Avoid")]
    assert _background(target_piece) is None
    coloured = _parse(text_heatmap_html(segments, self_salience=True))
    assert _background(coloured.pieces[coloured.texts.index("Avoid")]) is not None


def test_ab_view_shares_one_scale_and_one_colour_bar():
    a = _scored("alpha beta gamma", "words")
    b = SegmentScores(a.segments, a.scores * 3, a.in_target, False, a.token_counts)
    page = ab_heatmap_html(a, b, titles=("A: v1", "B: v2"), score="nats of loss, sum per piece")
    parsed = _parse(page)
    half = len(parsed.pieces) // 2
    colours_a = [_background(piece) for piece in parsed.pieces[:half]]
    colours_b = [_background(piece) for piece in parsed.pieces[half:]]
    assert colours_b[-1] == UNSIGNED_SCALE[-1][1]  # B holds the largest score: the scale's end.
    assert colours_a[-1] != colours_b[-1]  # A's largest is a third of it, so lighter, not its own end.
    assert colours_a[-1] == score_colour(a.scores[-1] / b.scores.max(), signed=False, gain=0.4)
    assert page.count('class="pk-colour-legend"') == 1
    assert "A: v1" in page and "B: v2" in page


def test_colour_bar_gives_the_unit_and_score_ticks():
    segments = _scored("one two", "words", signed=True)
    page = text_heatmap_html(segments, score="nats of loss, sum per piece")
    legend = page[page.index('class="pk-colour-legend"') :]
    assert 'dir="ltr"' in legend[:60]
    assert "linear-gradient(to right, #c2410c 0.0%, #ffffff 50.0%, #1d4ed8 100.0%)" in legend
    labels = re.findall(r"translateX\(-?\d+%\);\">([^<]*)</span>", legend)
    # Evenly spaced along the bar, labelled with the score there: the domain (the largest |score|, 2)
    # at the ends, and 2·0.5^(1/0.6) half way, where the gain of 0.4 puts it.
    assert labels == ["-2", "-0.63", "0", "0.63", "2"]
    places = [float(x) for x in re.findall(r"left: ([\d.]+)%", legend)]
    assert places == [0.0, 25.0, 50.0, 75.0, 100.0]
    assert "nats of loss, sum per piece" in legend

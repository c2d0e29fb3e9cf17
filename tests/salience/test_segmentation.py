"""Segments tile any text exactly, in order, at every granularity."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptkit.errors import SalienceError
from promptkit.graphemes import grapheme_bounds
from promptkit.salience.segmentation import GRANULARITIES, assign_tokens, segment_text

SAMPLES = [
    "Analyze a menu item.\n\nTaste-likes: Cheese\r\nRecommendation: Avoid.",
    "你好世界。今天天气很好！\n\n日本語のテキスト",
    "سلام دنیا. این یک آزمایش است؟\nשלום עולם.",
    "emoji 👩‍👩‍👧 and flags 🇫🇷\tafter a tab",
    "\r\n\r\n\t  \n",
]
_TEXT = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from(list("ab .?!\n\r\t你好سلام😀‍ ")), max_size=80),
)


@dataclasses.dataclass(frozen=True)
class Part:
    name: str
    kind: str
    start: int
    end: int


def _segments(text: str, granularity: str):
    starts = list(range(0, len(text), 3))
    parts = [Part(f"p{i}", "literal", i, min(len(text), i + 5)) for i in range(0, len(text), 7)]
    return segment_text(text, granularity, token_starts=starts, pattern=r"[.\n]+", parts=parts, cuts=(len(text) // 2,))


def _assert_tiles(text: str, segments) -> None:
    assert "".join(s.text for s in segments) == text
    position = 0
    clusters = set(grapheme_bounds(text))
    for segment in segments:
        assert segment.start == position < segment.end
        assert text[segment.start : segment.end] == segment.text
        assert segment.end in clusters  # No segment ends inside a grapheme cluster.
        position = segment.end
    assert position == len(text)


@settings(max_examples=150, deadline=None)
@given(text=_TEXT, granularity=st.sampled_from(GRANULARITIES))
def test_segments_tile_random_unicode(text, granularity):
    _assert_tiles(text, _segments(text, granularity))


@pytest.mark.parametrize("text", SAMPLES)
@pytest.mark.parametrize("granularity", GRANULARITIES)
def test_segments_tile_scripts(text, granularity):
    _assert_tiles(text, _segments(text, granularity))


def test_rules_on_an_example():
    text = "Hi there. How are you?\r\n\r\nNew para\n  indented"
    words = [s.text for s in segment_text(text, "words")]
    assert words == ["Hi", " there.", " How", " are", " you?", "\r\n\r\n", "New", " para", "\n", "  indented"]
    assert [s.text for s in segment_text(text, "sentences")] == ["Hi there.", " How are you?", "\r\n\r\n", "New para", "\n", "  indented"]
    assert [s.text for s in segment_text(text, "lines")] == ["Hi there. How are you?\r\n\r\n", "New para\n", "  indented"]
    assert [s.text for s in segment_text(text, "paragraphs")] == ["Hi there. How are you?\r\n\r\n", "New para\n  indented"]
    assert [s.text for s in segment_text("你好 世界", "words")] == ["你", "好", " ", "世", "界"]


def test_parts_keep_labels_and_fill_gaps():
    text = "Likes: Cheese\nAnswer"
    segments = segment_text(text, "parts", parts=[Part("intro", "literal", 0, 7), Part("likes", "variable", 7, 13)])
    assert [(s.text, s.label) for s in segments] == [("Likes: ", "intro"), ("Cheese", "likes"), ("\nAnswer", "")]


def test_token_on_a_boundary_goes_to_the_segment_of_its_first_character():
    segments = segment_text("ab cd", "words")  # "ab" | " cd"
    assert assign_tokens(segments, [0, 1, 3, 5]) == [0, 0, 1, 1]


def test_cuts_inside_a_grapheme_cluster_move_to_its_end():
    text = "a👩\u200d🍳b\r\nc"  # token starts at every code point, as byte-level tokens may fall
    tokens = [s.text for s in segment_text(text, "tokens", token_starts=range(len(text)))]
    assert tokens == ["a", "👩\u200d🍳", "b", "\r\n", "c"]
    # A part that starts inside the emoji keeps its name, from the emoji's end.
    parts = [Part("cook", "literal", 2, len(text))]
    assert [(s.text, s.label) for s in segment_text(text, "parts", parts=parts)] == [("a👩\u200d🍳", ""), ("b\r\nc", "cook")]
    # A cut asked for inside CRLF (a custom pattern, the end of a prompt) moves after it.
    assert [s.text for s in segment_text(text, "custom", pattern="\r")] == ["a👩\u200d🍳b\r\n", "c"]
    assert [s.text for s in segment_text(text, "words", cuts=(2,))] == ["a👩\u200d🍳", "b", "\r\n", "c"]
    segments = segment_text(text, "tokens", token_starts=range(len(text)))
    assert assign_tokens(segments, range(len(text))) == [0, 1, 1, 1, 2, 3, 3, 4]  # the emoji's tokens share a piece


def test_bad_custom_pattern_and_granularity_are_user_errors():
    with pytest.raises(SalienceError, match="regular expression"):
        segment_text("x", "custom", pattern="(")
    with pytest.raises(SalienceError, match="granularity"):
        segment_text("x", "chapters")

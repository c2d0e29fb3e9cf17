"""Grapheme clusters: cut points, shortened text, token groups, bidi isolates."""

from __future__ import annotations

from promptkit.graphemes import (
    grapheme_bounds,
    grapheme_groups,
    has_right_to_left,
    isolated,
    shorten,
    snap_to_graphemes,
)

CHEF = "👩\u200d🍳"


def test_bounds_are_cluster_starts_and_cuts_move_to_the_cluster_end():
    text = f"a{CHEF}é\u0301\r\n"
    assert grapheme_bounds(text) == [0, 1, 4, 6, 8]
    assert snap_to_graphemes([0, 1, 2, 3, 5, 7, 8], text) == [0, 1, 4, 4, 6, 8, 8]
    assert grapheme_bounds("") == [0]


def test_shorten_keeps_whole_clusters():
    assert shorten(f"{CHEF}{CHEF}{CHEF}", 2) == f"{CHEF}…"
    assert shorten("abc", 3) == "abc" and shorten("abcd", 3) == "ab…"


def test_groups_join_pieces_that_split_a_cluster_and_empty_pieces():
    pieces = ["a", "", "ب", "👩", "\u200d", "🍳", "\r", "\n", "x", ""]
    assert grapheme_groups(pieces) == [range(0, 1), range(1, 3), range(3, 6), range(6, 8), range(8, 10)]
    assert grapheme_groups([]) == [] and grapheme_groups(["", ""]) == [range(0, 2)]
    for groups in (grapheme_groups(pieces),):
        assert [index for group in groups for index in group] == list(range(len(pieces)))


def test_right_to_left_text_is_isolated_and_other_text_left_alone():
    assert has_right_to_left("שלום") and has_right_to_left("x کتاب") and not has_right_to_left("이 这 abc 👍")
    assert isolated("کتاب") == "\u2068کتاب\u2069" and isolated("book") == "book"

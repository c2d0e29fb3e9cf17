"""Word- and line-level diffs: spans rebuild both texts and read naturally."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptkit.diff import DiffSpan, diff_texts

TEXTS = st.text(alphabet=st.sampled_from(list("ab c\n\t.é")), max_size=40)


def rebuild(spans: list[DiffSpan], keep: str) -> str:
    return "".join(span.text for span in spans if span.op in ("equal", keep))


@pytest.mark.parametrize("granularity", ["word", "line"])
@given(a=TEXTS, b=TEXTS)
def test_spans_rebuild_both_texts(granularity, a: str, b: str) -> None:
    spans = diff_texts(a, b, granularity=granularity)
    assert rebuild(spans, "delete") == a
    assert rebuild(spans, "insert") == b
    a_position = b_position = 0
    for span in spans:
        assert span.text
        assert (span.a_start, span.b_start) == (a_position, b_position)
        if span.op != "insert":
            assert a[span.a_start : span.a_end] == span.text
        if span.op != "delete":
            assert b[span.b_start : span.b_end] == span.text
        a_position, b_position = span.a_end, span.b_end
    assert all(left.op != right.op for left, right in itertools.pairwise(spans))


def test_identical_texts_are_one_equal_span() -> None:
    assert diff_texts("same text", "same text") == [DiffSpan("equal", "same text", 0, 9, 0, 9)]
    assert diff_texts("", "") == []


def test_word_diff_of_the_fewshot_fix() -> None:
    a = "Analysis: onions.\nRecommendation: You have to try it.\n\nNext"
    b = "Analysis: onions.\nRecommendation: Avoid.\n\nNext"
    spans = diff_texts(a, b)
    assert [(span.op, span.text) for span in spans] == [
        ("equal", "Analysis: onions.\nRecommendation: "),
        ("delete", "You have to try it."),
        ("insert", "Avoid."),
        ("equal", "\n\nNext"),
    ]


def test_line_diff_marks_whole_lines() -> None:
    a = "intro\n* brief\nend"
    b = "intro\n* brief\n* clear about restrictions\nend"
    assert [(span.op, span.text) for span in diff_texts(a, b, granularity="line")] == [
        ("equal", "intro\n* brief\n"),
        ("insert", "* clear about restrictions\n"),
        ("equal", "end"),
    ]


def test_unknown_granularity_is_refused() -> None:
    with pytest.raises(ValueError, match="granularity"):
        diff_texts("a", "b", granularity="char")  # type: ignore[arg-type]

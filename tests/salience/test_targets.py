"""Picking a line of a completion to explain."""

from __future__ import annotations

import pytest

from promptkit.errors import SalienceError
from promptkit.salience.targets import (
    WHOLE_COMPLETION,
    CharRange,
    LinePrefix,
    WholeTarget,
    completion_lines,
    default_line,
    line_selection,
)

COMPLETION = " It has eggs.\n\n  Recommendation: Avoid.  \r\nRecommendation:\nEnd"


def test_completion_lines_skip_blank_lines_and_give_offsets() -> None:
    lines = completion_lines(COMPLETION)
    assert [text for text, _, _ in lines] == ["It has eggs.", "Recommendation: Avoid.", "Recommendation:", "End"]
    for text, start, end in lines:
        assert COMPLETION[start:end] == text
    assert completion_lines("") == [] and completion_lines("\n \n") == []


def test_line_selection_by_prefix_range_or_whole() -> None:
    prefix = "Recommendation:"
    assert line_selection(COMPLETION, "Recommendation: Avoid.", prefix=prefix) == LinePrefix(prefix)
    assert line_selection(COMPLETION, "It has eggs.", prefix=prefix) == CharRange(1, 13)
    # Nothing after the prefix: the line is selected by its range.
    start = COMPLETION.index("Recommendation:\n")
    assert line_selection(COMPLETION, "Recommendation:", prefix=prefix) == CharRange(start, start + len(prefix))
    start = COMPLETION.index("Recommendation: Avoid.")
    assert line_selection(COMPLETION, "Recommendation: Avoid.", prefix=None) == CharRange(start, start + 22)
    assert line_selection(COMPLETION, WHOLE_COMPLETION, prefix=prefix) == WholeTarget()
    assert line_selection(COMPLETION, "not a line", prefix=prefix) == WholeTarget()


def test_default_line_prefers_the_line_of_interest() -> None:
    assert default_line(COMPLETION, prefix="Recommendation:") == "Recommendation: Avoid."
    assert default_line(COMPLETION, prefix=None) == WHOLE_COMPLETION
    assert default_line(COMPLETION, prefix="Verdict:") == WHOLE_COMPLETION


def test_words_pick_a_span_by_its_first_and_last_word():
    from promptkit.salience import target_words, words_selection

    target = " it has eggs.\nRecommendation:\tAvoid."
    assert target_words(target) == [("it", 1, 3), ("has", 4, 7), ("eggs.", 8, 13), ("Recommendation:", 14, 29), ("Avoid.", 30, 36)]
    assert words_selection(target, 3, 4) == CharRange(14, 36)
    assert words_selection(target, 2, 2) == CharRange(8, 13)
    for first, last in ((4, 3), (0, 5), (-1, 0)):
        with pytest.raises(SalienceError, match="outside the target, which has 5 words"):
            words_selection(target, first, last)
    assert target_words(" \n\t") == []

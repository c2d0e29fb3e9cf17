"""Picking a line of a completion to explain."""

from __future__ import annotations

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

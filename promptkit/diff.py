"""Line- and word-level diffs between two texts, as equal/insert/delete spans.

Used for template versions and for completions alike. Concatenating the
"equal" and "delete" spans in order gives the first text back; "equal" and
"insert" give the second.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from itertools import accumulate
from typing import Literal

Op = Literal["equal", "insert", "delete"]
Granularity = Literal["word", "line"]

# A word keeps the whitespace after it, so a changed word does not leave a
# stray space behind; leading whitespace is a token of its own.
_WORD = re.compile(r"\s+|\S+\s*")


@dataclass(frozen=True)
class DiffSpan:
    """One run of text that is unchanged, inserted or deleted.

    Attributes:
        op: "equal", "insert" (only in b) or "delete" (only in a).
        text: The text of the run.
        a_start: Offset in a where the run starts (for inserts: where it goes).
        a_end: Offset in a where it ends (equal to a_start for inserts).
        b_start: Offset in b where the run starts (for deletes: where it was).
        b_end: Offset in b where it ends (equal to b_start for deletes).
    """

    op: Op
    text: str
    a_start: int
    a_end: int
    b_start: int
    b_end: int


def diff_texts(a: str, b: str, *, granularity: Granularity = "word") -> list[DiffSpan]:
    """Diffs two texts.

    Args:
        a: The old text.
        b: The new text.
        granularity: "word" (words with their trailing whitespace) or
            "line" (lines with their newline).

    Returns:
        Non-empty spans in order; neighbours never share an op, and within
        a change the deletion comes before the insertion.

    Raises:
        ValueError: On an unknown granularity.
    """
    if granularity not in ("word", "line"):
        raise ValueError(f"granularity must be 'word' or 'line', not {granularity!r}")
    tokens_a, tokens_b = _tokens(a, granularity), _tokens(b, granularity)
    offsets_a = [0, *accumulate(len(token) for token in tokens_a)]
    offsets_b = [0, *accumulate(len(token) for token in tokens_b)]
    spans: list[DiffSpan] = []
    matcher = difflib.SequenceMatcher(None, tokens_a, tokens_b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        a_start, a_end, b_start, b_end = offsets_a[i1], offsets_a[i2], offsets_b[j1], offsets_b[j2]
        if tag == "equal":
            _append(spans, "equal", a, a_start, a_end, b_start, b_end)
            continue
        # A replaced word often keeps its trailing whitespace ("bar\n" ->
        # "baz\n"): show that whitespace as unchanged.
        keep = _common_whitespace_suffix(a[a_start:a_end], b[b_start:b_end]) if tag == "replace" else 0
        _append(spans, "delete", a, a_start, a_end - keep, b_start, b_start)
        _append(spans, "insert", b, a_end - keep, a_end - keep, b_start, b_end - keep)
        _append(spans, "equal", a, a_end - keep, a_end, b_end - keep, b_end)
    return spans


def _tokens(text: str, granularity: Granularity) -> list[str]:
    """Splits text into words (with trailing whitespace) or lines (with newline)."""
    if granularity == "line":
        return text.splitlines(keepends=True)
    return _WORD.findall(text)


def _common_whitespace_suffix(left: str, right: str) -> int:
    """Length of the whitespace both texts end with, leaving each some text."""
    length = 0
    while (
        length < min(len(left), len(right)) - 1
        and left[-1 - length] == right[-1 - length]
        and left[-1 - length].isspace()
    ):
        length += 1
    return length


def _append(spans: list[DiffSpan], op: Op, source: str, a_start: int, a_end: int, b_start: int, b_end: int) -> None:
    """Adds a span, skipping empty ones and merging with a neighbour of the same op."""
    start, end = (a_start, a_end) if op != "insert" else (b_start, b_end)
    if start == end:
        return
    text = source[start:end]
    if spans and spans[-1].op == op:
        last = spans.pop()
        spans.append(DiffSpan(op, last.text + text, last.a_start, a_end, last.b_start, b_end))
        return
    spans.append(DiffSpan(op, text, a_start, a_end, b_start, b_end))

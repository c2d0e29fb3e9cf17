"""Cuts text into segments that tile it exactly, and maps tokens onto them.

Every granularity is a set of cut points: segment i runs from cut i to cut
i + 1, so concatenating the segments gives back the text for any input
(ASCII, CJK, right-to-left scripts, emoji, tabs, `\\r\\n`). Cut points are
character offsets; right-to-left text needs nothing special because offsets
follow the logical (stored) order, not the display order.

Rules, after LIT's (whitespace belongs to the word or sentence it precedes;
line breaks belong to the line or paragraph they end):
- words: a cut where a whitespace run starts, before the first non-newline
  character after a newline, and before each CJK ideograph or kana (those
  scripts use no spaces, so each character is a word);
- sentences: a cut where a newline run starts, after a newline run, and
  where whitespace follows `.`, `?`, `!` (or right after `。？！؟`);
- lines: a cut after each newline run; paragraphs: after each blank line;
- custom: a cut at the end of each match of the user's pattern;
- tokens: a cut at each token start; parts: at each part's start and end.

No segment splits a grapheme cluster (an emoji sequence such as 👩‍🍳, a
letter with its combining marks, `\r\n`): a cut that falls inside one moves
to the cluster's end, so at `tokens` granularity the tokens of one cluster
share a segment, and the pieces a page shows are whole characters.

A token that spans a cut belongs to the segment holding its first character;
an empty token (a byte piece before the piece that completes its character)
belongs to the segment holding its position.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import re
from collections.abc import Iterable, Sequence
from typing import Protocol

from promptkit.errors import SalienceError
from promptkit.graphemes import snap_to_graphemes

GRANULARITIES = ("tokens", "words", "sentences", "lines", "paragraphs", "custom", "parts")
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Built-in rules: (pattern, cut at match start or at match end).
_PATTERNS = {
    "words": (re.compile(rf"(?<!\s)\s|(?<=\n)[^\r\n]|(?=[{_CJK}])"), False),
    "sentences": (re.compile(r"(?<![\r\n])\r?\n|(?<=\n)[^\r\n]|(?<=[.?!])\s|(?<=[。？！؟])"), False),
    "lines": (re.compile(r"\n[\r\n]*(?<=\n)"), True),
    "paragraphs": (re.compile(r"\n(?:[ \t\r]*\n)+"), True),
}


class PartLike(Protocol):
    """Anything with a name and a [start, end) span, e.g. a template part."""

    name: str
    start: int
    end: int


@dataclasses.dataclass(frozen=True)
class Segment:
    """A span of the text.

    Attributes:
        text: the segment's characters.
        start: offset of its first character.
        end: offset just past its last character.
        label: the template part's name for `parts`, else empty.
    """

    text: str
    start: int
    end: int
    label: str = ""


def segment_text(
    text: str,
    granularity: str,
    *,
    token_starts: Sequence[int] = (),
    pattern: str | None = None,
    parts: Iterable[PartLike] = (),
    cuts: Iterable[int] = (),
) -> list[Segment]:
    """Segments `text` at one granularity.

    Args:
        text: the whole text (prompt + target).
        granularity: one of `GRANULARITIES`.
        token_starts: token start offsets, for `tokens`.
        pattern: the regular expression for `custom` (default `\\n+`).
        parts: objects with `name`, `start`, `end`, for `parts`; gaps
            between them (e.g. the target) become unlabelled segments.
        cuts: extra cut points every granularity honours (e.g. where the
            prompt ends and where the selected target starts and ends).

    Returns:
        Non-empty segments in order, tiling `text`, each whole grapheme clusters.

    Raises:
        SalienceError: unknown granularity or invalid custom pattern.
    """
    points = {c for c in cuts if 0 < c < len(text)}
    labels: dict[int, str] = {}
    if granularity == "tokens":
        points |= set(token_starts)
    elif granularity == "custom":
        try:
            compiled = re.compile(pattern or r"\n+")
        except re.error as error:
            raise SalienceError(f"The custom pattern {pattern!r} is not a valid regular expression: {error}.") from error
        points |= {match.end() for match in compiled.finditer(text)}
    elif granularity == "parts":
        for part in parts:
            start, end = max(0, part.start), min(len(text), part.end)
            if start < end:
                points |= {start, end}
                labels.setdefault(start, part.name)
    elif granularity in _PATTERNS:
        compiled, at_end = _PATTERNS[granularity]
        points |= {match.end() if at_end else match.start() for match in compiled.finditer(text)}
    else:
        raise SalienceError(f"Unknown granularity {granularity!r}; choose one of {', '.join(GRANULARITIES)}.")
    starts = sorted(labels)
    inside, moved = snap_to_graphemes(sorted(points), text), snap_to_graphemes(starts, text)
    bounds = [0, *sorted({p for p in inside if 0 < p < len(text)}), len(text)]
    named: dict[int, str] = {}
    for start, at in zip(starts, moved):  # A part's name goes where its start moved; the first part's wins.
        named.setdefault(at, labels[start])
    return [
        Segment(text[start:end], start, end, named.get(start, ""))
        for start, end in itertools.pairwise(bounds)
        if start < end
    ]


def assign_tokens(segments: Sequence[Segment], token_starts: Sequence[int]) -> list[int]:
    """Index of the segment each token belongs to (see the module's rule).

    Args:
        segments: segments tiling the text, in order.
        token_starts: each token's start offset, shape `(num_tokens,)`.

    Returns:
        One segment index per token.
    """
    starts = [segment.start for segment in segments]
    last = len(segments) - 1
    return [min(last, max(0, bisect.bisect_right(starts, start) - 1)) for start in token_starts]

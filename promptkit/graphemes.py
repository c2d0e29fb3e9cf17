"""Grapheme clusters: the units a reader sees as one character (👩‍🍳, a letter with its marks, `\\r\\n`).

Text shown in pieces (coloured spans, axis labels, shortened names) is cut
only between clusters, so no piece holds half an emoji or a mark without its
letter. Clusters follow Unicode's extended grapheme cluster rules (the
`regex` module's `\\X`).
"""

from __future__ import annotations

import bisect
import unicodedata
from collections.abc import Sequence

import regex

_CLUSTER = regex.compile(r"\X")
_RTL_CLASSES = ("R", "AL")
_FIRST_STRONG_ISOLATE, _POP_DIRECTIONAL_ISOLATE = "\u2068", "\u2069"


def grapheme_bounds(text: str) -> list[int]:
    """Offsets where a grapheme cluster starts, and `len(text)`.

    Args:
        text: any text.

    Returns:
        Increasing offsets from 0 to `len(text)` (just `[0]` for empty text).
    """
    return [match.start() for match in _CLUSTER.finditer(text)] + [len(text)]


def snap_to_graphemes(cuts: Sequence[int], text: str) -> list[int]:
    """Cut points moved off the inside of grapheme clusters, each to the end of the cluster it falls in.

    Args:
        cuts: character offsets into `text`, from 0 to `len(text)`.
        text: the text they cut.

    Returns:
        One cluster boundary per cut, in the same order.
    """
    bounds = grapheme_bounds(text)
    return [bounds[min(bisect.bisect_left(bounds, cut), len(bounds) - 1)] for cut in cuts]


def shorten(text: str, length: int, *, ellipsis: str = "…") -> str:
    """`text` cut to at most `length` grapheme clusters (the last being `ellipsis`) when longer.

    Args:
        text: any text.
        length: clusters kept, the ellipsis included.
        ellipsis: what marks a cut.

    Returns:
        `text` itself, or its first `length - 1` clusters and the ellipsis.
    """
    clusters = _CLUSTER.findall(text)
    return text if len(clusters) <= length else "".join(clusters[: max(0, length - 1)]) + ellipsis


def has_right_to_left(text: str) -> bool:
    """Whether `text` holds a right-to-left letter (Hebrew, Arabic, Persian…)."""
    return any(unicodedata.bidirectional(char) in _RTL_CLASSES for char in text)


def isolated(text: str) -> str:
    """`text` as a bidi isolate when it holds right-to-left letters, else unchanged.

    Text put inside a left-to-right line (an axis label with " (#2)" after
    it, an ellipsis at its end) then keeps its own order: the isolate's
    direction comes from its first strong letter, and what follows it is not
    pulled into it.
    """
    return f"{_FIRST_STRONG_ISOLATE}{text}{_POP_DIRECTIONAL_ISOLATE}" if has_right_to_left(text) else text


def grapheme_groups(texts: Sequence[str]) -> list[range]:
    """Consecutive pieces (e.g. tokens) grouped so that each group's text is whole grapheme clusters.

    A piece that ends inside a cluster joins the next; an empty piece (a byte
    token before the one that completes its character) joins the next too.

    Args:
        texts: the pieces' texts, in order.

    Returns:
        Index ranges covering `texts` in order, none empty.
    """
    bounds = set(grapheme_bounds("".join(texts)))
    groups: list[range] = []
    first, group_start, offset = 0, 0, 0
    for index, text in enumerate(texts):
        offset += len(text)
        if offset > group_start and offset in bounds:
            groups.append(range(first, index + 1))
            first, group_start = index + 1, offset
    if first < len(texts):  # Trailing empty pieces close the last group.
        if groups and group_start == offset:
            groups[-1] = range(groups[-1].start, len(texts))
        else:
            groups.append(range(first, len(texts)))
    return groups

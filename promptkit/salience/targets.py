"""What to explain: the target text and the span of it whose loss is explained.

The sequence is `<bos>` + tokens(prompt) + tokens(target), the prompt and
the target tokenized separately (as when the model generated the target),
so a token never straddles the prompt/target boundary. Character offsets
are into `text = prompt + target`.

A selection picks target tokens: every token with at least one character
inside the chosen character range (a token's empty byte pieces go with it).
The span reported is the extent of the selected tokens, so it can start a
little before the range (e.g. at the space of ` You`).

`LinePrefix` picks the first target line whose text, after leading
whitespace, starts with the prefix. By default the prefix itself and the
whitespace after it are *not* part of the selection: in a few-shot format
the prefix (`Recommendation:`) is copied from the examples and nearly
certain, so its loss would only dilute the explanation of the answer. The
line break that ends the line is never selected. `include_prefix=True`
selects the whole line.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Protocol

from promptkit.errors import SalienceError


class TokenLike(Protocol):
    """A token's character span, e.g. `promptkit.tokenization.TokenSpan`."""

    @property
    def text(self) -> str:
        """The token's text."""

    @property
    def start(self) -> int:
        """Its first character's offset."""

    @property
    def end(self) -> int:
        """The offset just after its last character."""


@dataclasses.dataclass(frozen=True)
class CharRange:
    """Characters [start, end) of the target (offsets into the target, not the text)."""

    start: int
    end: int


@dataclasses.dataclass(frozen=True)
class LinePrefix:
    """The first target line starting with `prefix` (see the module docstring)."""

    prefix: str
    include_prefix: bool = False


@dataclasses.dataclass(frozen=True)
class TokenRange:
    """Target tokens [start, end), counted from the target's first token."""

    start: int
    end: int


@dataclasses.dataclass(frozen=True)
class WholeTarget:
    """Every token of the target."""


Selection = CharRange | LinePrefix | TokenRange | WholeTarget


def line_range(target: str, selection: LinePrefix) -> CharRange:
    """The character range `selection` picks in `target`.

    Raises:
        SalienceError: no line starts with the prefix, or nothing follows it.
    """
    if not selection.prefix.strip():
        raise SalienceError("The target line prefix is empty; give the text a line starts with, e.g. 'Recommendation:'.")
    position = 0
    for line in target.splitlines(keepends=True):
        content = line.rstrip("\r\n")
        stripped = content.lstrip()
        if stripped.startswith(selection.prefix):
            start = position + len(content) - len(stripped)
            if not selection.include_prefix:
                after = stripped[len(selection.prefix) :]
                start += len(selection.prefix) + len(after) - len(after.lstrip())
            end = position + len(content.rstrip())
            if start >= end:
                raise SalienceError(f"The target line starting with {selection.prefix!r} has nothing after the prefix to explain.")
            return CharRange(start, end)
        position += len(line)
    raise SalienceError(
        f"No line of the target starts with {selection.prefix!r}. Lines start with: "
        + ", ".join(repr(line.strip()[:20]) for line in target.splitlines() if line.strip())[:300]
        + "."
    )


def select_tokens(target: str, target_tokens: Sequence[TokenLike], selection: Selection) -> tuple[int, int]:
    """Target token indices [first, last) that `selection` picks.

    Args:
        target: the target text.
        target_tokens: its tokens, offsets counted from the target's start.
        selection: what to pick.

    Returns:
        `(first, last)` into `target_tokens`, with first < last.

    Raises:
        SalienceError: the selection is empty or out of range.
    """
    count = len(target_tokens)
    if not count:
        raise SalienceError("The target is empty; give a reference text or generate a completion first.")
    if isinstance(selection, WholeTarget):
        return 0, count
    if isinstance(selection, TokenRange):
        if not 0 <= selection.start < selection.end <= count:
            raise SalienceError(f"Token range {selection.start}–{selection.end} is outside the target's {count} tokens.")
        return selection.start, selection.end
    chars = line_range(target, selection) if isinstance(selection, LinePrefix) else selection
    if not 0 <= chars.start < chars.end <= len(target):
        raise SalienceError(f"Character range {chars.start}–{chars.end} is empty or outside the target ({len(target)} characters).")
    # Empty byte pieces sit at the start of the character they help spell.
    picked = [
        index
        for index, token in enumerate(target_tokens)
        if (token.start < chars.end and token.end > chars.start)
        or (token.start == token.end and chars.start <= token.start < chars.end)
    ]
    if not picked:
        raise SalienceError("The selected characters contain no target token.")
    return picked[0], picked[-1] + 1


# The choice that stands for the whole completion in a list of its lines.
WHOLE_COMPLETION = "(the whole completion)"


def completion_lines(completion: str) -> list[tuple[str, int, int]]:
    """Lists the non-blank lines of a completion.

    Args:
        completion: the text.

    Returns:
        `(text, start, end)` per line: the line without surrounding
        whitespace, and its character offsets into `completion`.
    """
    lines, offset = [], 0
    for raw in completion.splitlines(keepends=True):
        text = raw.rstrip("\r\n")
        if text.strip():
            lead = len(text) - len(text.lstrip())
            lines.append((text.strip(), offset + lead, offset + len(text.rstrip())))
        offset += len(raw)
    return lines


def line_selection(completion: str, choice: str, *, prefix: str | None) -> Selection:
    """The selection for a line of `completion` picked by its text.

    A line that starts with the line of interest (e.g. 'Recommendation:') is
    selected by that prefix, so the prefix itself is not part of the target;
    other lines by their character range.

    Args:
        completion: the target text.
        choice: a line's text as `completion_lines` gives it, or `WHOLE_COMPLETION`.
        prefix: the family's line of interest, if any.

    Returns:
        A `LinePrefix`, a `CharRange`, or `WholeTarget` (also when no line matches).
    """
    if choice == WHOLE_COMPLETION:
        return WholeTarget()
    for text, start, end in completion_lines(completion):
        if text == choice:
            if prefix and text.startswith(prefix) and text[len(prefix) :].strip():
                return LinePrefix(prefix)
            return CharRange(start, end)
    return WholeTarget()


def default_line(completion: str, *, prefix: str | None) -> str:
    """The line to explain first: the first one starting with `prefix`, else the whole completion.

    Args:
        completion: the target text.
        prefix: the family's line of interest, if any.

    Returns:
        A line's text as `completion_lines` gives it, or `WHOLE_COMPLETION`.
    """
    for text, _, _ in completion_lines(completion):
        if prefix and text.startswith(prefix):
            return text
    return WHOLE_COMPLETION


def target_words(target: str) -> list[tuple[str, int, int]]:
    """Lists the words of a target (runs of non-space characters), for picking a span by its ends.

    Args:
        target: the text.

    Returns:
        `(text, start, end)` per word, offsets into `target`.
    """
    return [(match.group(), match.start(), match.end()) for match in re.finditer(r"\S+", target)]


def words_selection(target: str, first: int, last: int) -> CharRange:
    """The selection from word `first` through word `last` of `target` (as `target_words` numbers them).

    Raises:
        SalienceError: the target has no such words.
    """
    words = target_words(target)
    if not 0 <= first <= last < len(words):
        raise SalienceError(f"Words {first}–{last} are outside the target, which has {len(words)} words.")
    return CharRange(words[first][1], words[last][2])

"""Parts of a rendered prompt: in-band markers around values, then spans.

The renderer wraps every emitted value as OPEN index SEP value CLOSE; after
rendering, `split_marked` removes the markers and records where each value
landed. The text between values is cut into literal parts at blank lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

# Unicode noncharacters are reserved for internal use and never appear in
# interchange text, which makes them safe in-band markers.
_OPEN, _SEP, _CLOSE = "\ufdd0", "\ufdd1", "\ufdd2"
MARKERS = (_OPEN, _SEP, _CLOSE)
_MARKER = re.compile(f"{_OPEN}(\\d+){_SEP}|{_CLOSE}")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)*")
_NAME_WIDTH = 48


@dataclass(frozen=True)
class TemplatePart:
    """A span of the rendered prompt and where it came from.

    Attributes:
        name: The variable name (or dotted path such as `example.text`) for a
            variable part; for a literal part its first line that no other
            literal part has (else its first line), with " (2)", " (3)"...
            added when several literal parts share it.
        kind: "variable" or "literal".
        start: Offset of the first character in the rendered text.
        end: Offset just past the last character.
    """

    name: str
    kind: Literal["variable", "literal"]
    start: int
    end: int


@dataclass(frozen=True)
class RenderedPrompt:
    """A rendered prompt and the parts that tile it.

    Attributes:
        text: The prompt, exactly as the model should see it.
        parts: Parts in order; part i ends where part i+1 starts, the first
            starts at 0 and the last ends at len(text).
    """

    text: str
    parts: tuple[TemplatePart, ...]

    def part_text(self, part: TemplatePart) -> str:
        """Returns the text of `part` within this prompt."""
        return self.text[part.start : part.end]


def mark(index: int, value: object) -> str:
    """Renders one output value between markers carrying its part index."""
    return f"{_OPEN}{index}{_SEP}{value!s}{_CLOSE}"



def split_marked(marked: str, names: list[str]) -> RenderedPrompt:
    """Removes the markers from rendered text and builds the part list."""
    pieces: list[str] = []
    spans: list[tuple[str, int, int]] = []
    depth = 0
    opened: tuple[str, int] = ("", 0)
    length = 0
    cursor = 0
    for match in _MARKER.finditer(marked):
        pieces.append(marked[cursor : match.start()])
        length += match.start() - cursor
        cursor = match.end()
        if match.group(1) is not None:
            if depth == 0:
                opened = (names[int(match.group(1))], length)
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                spans.append((opened[0], opened[1], length))
    pieces.append(marked[cursor:])
    text = "".join(pieces)
    slots: list[TemplatePart | tuple[int, int]] = []  # Variable parts, and literal paragraphs to name.
    position = 0
    for name, start, end in spans:
        slots.extend(_paragraphs(text, start=position, end=start))
        slots.append(TemplatePart(name, "variable", start, end))
        position = end
    slots.extend(_paragraphs(text, start=position, end=len(text)))
    return RenderedPrompt(text=text, parts=tuple(_named(text, slots)))


def _paragraphs(text: str, *, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of the literal text's paragraphs, each keeping its trailing blank lines."""
    cuts = [match.end() for match in _PARAGRAPH_BREAK.finditer(text, start, end)]
    return [(a, b) for a, b in zip([start, *cuts], [*cuts, end], strict=True) if a < b]


def _named(text: str, slots: list[TemplatePart | tuple[int, int]]) -> list[TemplatePart]:
    """Names each literal paragraph by its first line found in no other paragraph.

    Few-shot examples start alike ("Taste-likes: …"), so their first lines
    would tell them apart only by number; the first line of their own
    ("Suggestion: Onion soup") says which example it is. A paragraph with
    no line of its own takes its first line, numbered when repeated.
    """
    lines_of = {
        slot: [line.strip() for line in text[slot[0] : slot[1]].split("\n") if line.strip()]
        for slot in slots
        if isinstance(slot, tuple)
    }
    counts: dict[str, int] = {}
    for lines in lines_of.values():
        for line in set(lines):
            counts[line] = counts.get(line, 0) + 1
    parts: list[TemplatePart] = []
    seen: dict[str, int] = {}
    for slot in slots:
        if isinstance(slot, TemplatePart):
            parts.append(slot)
            continue
        lines = lines_of[slot]
        title = next((line for line in lines if counts[line] == 1), lines[0] if lines else "blank")
        if len(title) > _NAME_WIDTH:
            title = title[: _NAME_WIDTH - 1] + "…"
        seen[title] = seen.get(title, 0) + 1
        name = title if seen[title] == 1 else f"{title} ({seen[title]})"
        parts.append(TemplatePart(name, "literal", *slot))
    return parts

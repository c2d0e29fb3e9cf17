"""Text as the browser draws it, in shaded pieces: one `<span>` per piece, a tooltip on each.

The text is left to the browser's text layout, so letters join (Persian,
Arabic), each line reads in its own direction (`unicode-bidi: plaintext`
gives every line the direction of its first letter: Hebrew and Persian
lines right to left, English left to right) and emoji sequences stay one
glyph. Pieces carry no horizontal padding, margin or border, which would
make the browser shape each piece apart (letters of a word split over two
pieces would no longer join). Pieces are the caller's; cut them between
grapheme clusters (`promptkit.graphemes`).

All text is escaped, so pieces may hold any user input. Carriage returns
are written as character references, so the page holds the exact text.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Sequence

# Drawn inside the pieces' boxes (an outline outside them would cover a neighbouring
# colon or mark), around each line's part of a span that wraps.
_OUTLINE = (
    "box-shadow: inset 0 0 0 2px #111827; border-radius: 3px; "
    "-webkit-box-decoration-break: clone; box-decoration-break: clone;"
)


@dataclasses.dataclass(frozen=True)
class ShadedPiece:
    """One piece of text and how it is shown.

    Attributes:
        text: the piece's characters, shown as they are.
        background: a CSS colour, or None for none.
        tip: the tooltip (plain text).
        outlined: whether the piece is outlined (runs of outlined pieces share one outline).
        dark: whether the background needs white text.
        score: written as `data-score`, for tools that read the page.
    """

    text: str
    background: str | None
    tip: str
    outlined: bool = False
    dark: bool = False
    score: float | None = None


def escape_text(text: str) -> str:
    """`text` escaped for HTML content or attribute values, carriage returns kept."""
    return html.escape(text, quote=True).replace("\r", "&#13;")


def shaded_text_html(pieces: Sequence[ShadedPiece], *, monospace: bool = False, boxed: bool = True) -> str:
    """The pieces as one block of text.

    Args:
        pieces: the text's pieces, in reading (logical) order.
        monospace: a monospace font rather than the page's.
        boxed: a light border around the block.

    Returns:
        One `<div>`; each piece is a `<span data-piece="i">` with a `title`.
    """
    font = "font-family: monospace;" if monospace else ""
    box = "border: 1px solid #e5e7eb; border-radius: 6px; padding: 0.5em 0.7em;" if boxed else ""
    parts = [
        '<div class="pk-shaded-text" style="white-space: pre-wrap; overflow-wrap: anywhere; unicode-bidi: plaintext; '
        f'text-align: start; line-height: 1.9; {font}{box}">'
    ]
    outlining = False
    for index, piece in enumerate(pieces):
        if piece.outlined != outlining:
            parts.append(f'<span class="pk-outline" style="{_OUTLINE}">' if piece.outlined else "</span>")
            outlining = piece.outlined
        style = ""
        if piece.background is not None:
            style = f"background: {piece.background};" + (" color: #ffffff;" if piece.dark else "")
        score = "" if piece.score is None else f' data-score="{piece.score:.6g}"'
        parts.append(
            f'<span data-piece="{index}"{score} title="{escape_text(piece.tip)}"'
            + (f' style="{style}"' if style else "")
            + f">{escape_text(piece.text)}</span>"
        )
    if outlining:
        parts.append("</span>")
    parts.append("</div>")
    return "".join(parts)

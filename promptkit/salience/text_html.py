"""Salience over the text as HTML: each piece's background shows its score, as the browser draws the text.

The explained text keeps the browser's own layout (letters joined,
right-to-left lines in their order, emoji whole: `promptkit.shaded_text`);
each piece's background comes from the shared colour scale
(`promptkit.salience.colours`), its tooltip names the piece and its score,
the explained span is outlined, and a colour bar below gives the scale
with its unit. Segments never split a grapheme cluster
(`promptkit.salience.segmentation`), so neither do the pieces.

Pages show the returned HTML as is (e.g. Streamlit's `st.html`); the offline
report embeds it. All user text in it is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np

from promptkit.graphemes import shorten
from promptkit.salience.aggregation import SegmentScores
from promptkit.salience.colours import DEFAULT_GAIN, is_dark, scale, score_colour, ticks
from promptkit.shaded_text import ShadedPiece, escape_text, shaded_text_html

_TIP_LENGTH = 80


def _piece_tip(text: str, label: str, score: float, unit: str) -> str:
    """A piece's tooltip: its part's name, its text on one line (shortened), its score and the score's unit."""
    flat = " ".join(text.split())
    shown = shorten(flat, _TIP_LENGTH) if flat else "(line break)" if "\n" in text else "(space)"
    return f"{label + ': ' if label else ''}{shown}\nscore {score:.4g} ({unit})"


def salience_pieces(
    segments: SegmentScores, *, domain: float, gain: float, self_salience: bool, unit: str, signed: bool | None = None
) -> list[ShadedPiece]:
    """One shaded piece per segment: coloured by its score on [−domain, domain] (or [0, domain]).

    Args:
        segments: scored segments tiling the text.
        domain: the colour domain D (shared by an A/B view).
        gain: colormap intensity, 0–1.
        self_salience: colour the explained span too (it is outlined either way).
        unit: what a score means (`score_title`), for the tooltips.
        signed: the scale to use (default the segments'; an A/B view passes the shared one).

    Returns:
        The pieces, in text order; those of the explained span are outlined,
        and uncoloured unless `self_salience`.
    """
    signed = segments.signed if signed is None else signed
    values = segments.normalized(self_salience=self_salience, domain=domain)
    pieces = []
    for segment, score, value, outlined in zip(segments.segments, segments.scores, values, segments.in_target):
        colour = None if np.isnan(value) else score_colour(float(value), signed=signed, gain=gain)
        pieces.append(
            ShadedPiece(
                text=segment.text,
                background=colour,
                tip=_piece_tip(segment.text, segment.label, float(score), unit),
                outlined=bool(outlined),
                dark=colour is not None and is_dark(colour),
                score=float(score),
            )
        )
    return pieces


def colour_legend_html(*, signed: bool, domain: float, gain: float, score: str) -> str:
    """The colour bar: the scale as a gradient, five score ticks under it, and what a score means.

    Args:
        signed: the scale runs from −domain to domain (else 0 to domain).
        domain: the colour domain D.
        gain: colormap intensity, 0–1 (it places the ticks).
        score: what a score means (`score_title`).

    Returns:
        One left-to-right `<div>`.
    """
    stops = ", ".join(f"{colour} {place * 100:.1f}%" for place, colour in scale(signed))
    placed = ticks(signed, domain, gain)
    # Labels centre on their ticks; the end ones stay within the bar's width.
    shifts = ["0%", *["-50%"] * (len(placed) - 2), "-100%"]
    marks = "".join(
        f'<span style="position: absolute; left: {place * 100:.1f}%; transform: translateX({shift});">'
        f"{html.escape(label)}</span>"
        for (place, label), shift in zip(placed, shifts)
    )
    return (
        '<div class="pk-colour-legend" dir="ltr" style="display: flex; align-items: flex-start; gap: 1.2em; '
        'margin: 0.5em 0 0 0.6em; font-size: 0.8em; color: #374151;">'
        '<div style="width: 24em; flex: none;">'
        f'<div style="height: 0.8em; border: 1px solid #d1d5db; background: linear-gradient(to right, {stops});"></div>'
        f'<div style="position: relative; height: 1.4em;">{marks}</div></div>'
        f"<div>{escape_text(score)}</div></div>"
    )


def text_heatmap_html(
    segments: SegmentScores,
    *,
    gain: float = DEFAULT_GAIN,
    self_salience: bool = False,
    domain: float | None = None,
    title: str = "",
    score: str = "score",
) -> str:
    """The text, each segment's background coloured by its score, and the colour bar.

    Args:
        segments: scored segments (e.g. `result.segments("words")`).
        gain: colormap intensity, 0–1.
        self_salience: colour the target span too (it is outlined either way).
        domain: colour domain D; default the segments' own.
        title: a heading above the text.
        score: what a score means (`score_title`), for the colour bar and tooltips.

    Returns:
        One `<div>` of HTML; hovering a piece shows its text and score.
    """
    domain = domain if domain is not None else segments.domain(self_salience=self_salience)
    pieces = salience_pieces(segments, domain=domain, gain=gain, self_salience=self_salience, unit=score)
    return (
        '<div class="pk-salience-text">'
        + _heading(title)
        + shaded_text_html(pieces)
        + colour_legend_html(signed=segments.signed, domain=domain, gain=gain, score=score)
        + "</div>"
    )


def ab_heatmap_html(
    a: SegmentScores,
    b: SegmentScores,
    *,
    titles: Sequence[str] = ("A", "B"),
    gain: float = DEFAULT_GAIN,
    self_salience: bool = False,
    score: str = "score",
) -> str:
    """Two versions' salience side by side on one shared colour scale, with one colour bar.

    Args:
        a: version A's scored segments.
        b: version B's.
        titles: the two sides' headings.
        gain: colormap intensity, 0–1.
        self_salience: colour the target span too.
        score: what a score means (`score_title`).

    Returns:
        One `<div>`: two columns of text, then the shared colour bar.
    """
    domain = max(a.domain(self_salience=self_salience), b.domain(self_salience=self_salience))
    signed = a.signed or b.signed
    sides = "".join(
        '<div style="min-width: 0;">'
        + _heading(title)
        + shaded_text_html(salience_pieces(side, domain=domain, gain=gain, self_salience=self_salience, unit=score, signed=signed))
        + "</div>"
        for side, title in zip((a, b), titles)
    )
    return (
        '<div class="pk-salience-ab">'
        f'<div style="display: grid; grid-template-columns: 1fr 1fr; gap: 1em;">{sides}</div>'
        + colour_legend_html(signed=signed, domain=domain, gain=gain, score=score)
        + "</div>"
    )


def _heading(title: str) -> str:
    return f'<div dir="auto" style="font-weight: 600; margin: 0.2em 0 0.4em;">{escape_text(title)}</div>' if title else ""


"""Plotly figures of segment salience: text heatmap, top-k bars, A/B view, token-by-token matrix.

The text heatmap lays the text out on a character grid (rows of `width`
characters, wrapped at line breaks and at the width) and draws it as one
`Heatmap` trace with the characters as cell text: one trace whatever the
length, so a 4,000-token prompt (~16,000 cells) stays responsive, and
characters always sit in their coloured cells.

Colour: the normalised score v ∈ [−1, 1] is shown as sign(v)·|v|^(1 − gain);
gain (LIT's "colormap intensity", 0–1, default 0.4) brightens small scores.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from promptkit.salience.aggregation import SegmentScores
from promptkit.salience.methods import get_method
from promptkit.salience.token_matrix import SegmentMatrix
from promptkit.steps import FORK_PROBABILITY

DEFAULT_GAIN = 0.4
_UNSIGNED = [[0.0, "#ffffff"], [1.0, "#5b2c9f"]]
_SIGNED = [[0.0, "#c2410c"], [0.5, "#ffffff"], [1.0, "#1d4ed8"]]
_ROW_PX = 18


def _shown(values: np.ndarray, gain: float) -> np.ndarray:
    exponent = max(0.05, 1.0 - min(max(gain, 0.0), 1.0))
    shown: np.ndarray = np.sign(values) * np.abs(values) ** exponent
    return shown


def _layout_grid(segments: SegmentScores, width: int) -> tuple[list[list[str]], list[list[int]]]:
    """Characters and their segment index per cell, rows of at most `width`.

    Rows break at line breaks and, when a line is longer than `width`, after
    its last space that fits, or at the space just past a full row, which is
    then not drawn (a word longer than a row is split).
    """
    lines: list[list[tuple[str, int]]] = [[]]
    for index, segment in enumerate(segments.segments):
        for char in segment.text:
            if char == "\n":
                lines.append([])
            elif char != "\r":
                lines[-1].append((" " if char == "\t" else char, index))
    chars: list[list[str]] = []
    owner: list[list[int]] = []
    for line in lines:
        for row in _wrap(line, width):
            chars.append([char for char, _ in row])
            owner.append([index for _, index in row])
    return chars, owner


def _wrap(line: list[tuple[str, int]], width: int) -> list[list[tuple[str, int]]]:
    """One line's cells as rows of at most `width`, broken after spaces where possible."""
    rows = []
    while len(line) > width:
        if line[width][0] == " ":  # The row ends on a word's end: the space between goes.
            rows.append(line[:width])
            line = line[width + 1 :]
            continue
        spaces = [position for position in range(width) if line[position][0] == " "]
        cut = spaces[-1] + 1 if spaces else width
        rows.append(line[:cut])
        line = line[cut:]
    rows.append(line)
    return rows


def score_title(method: str, *, aggregation: str = "sum") -> str:
    """What a score means, for colour bars and axes: the method's declared unit and how tokens combine.

    Grad L2 is a gradient norm (no unit a reader knows); Grad·Input and
    integrated gradients approximate a change of the loss, −log p, in nats,
    and occlusion measures one.

    Args:
        method: a registered method's name.
        aggregation: how the tokens of a piece were combined.

    Returns:
        e.g. `"nats of loss, sum per piece"`.

    Raises:
        SalienceError: no such method.
    """
    return f"{get_method(method).unit}, {aggregation} per piece"


def _heatmap(segments: SegmentScores, *, domain: float, gain: float, width: int, self_salience: bool) -> tuple[go.Heatmap, list[dict[str, Any]], int]:
    chars, owner = _layout_grid(segments, width)
    values = _shown(segments.normalized(self_salience=self_salience, domain=domain), gain)
    rows = len(chars)
    z = np.full((rows, width), np.nan)
    text = np.full((rows, width), "", dtype=object)
    hover = np.full((rows, width), "", dtype=object)
    labels = [
        f"{s.label + ': ' if s.label else ''}{s.text[:80]!r}<br>score {score:.4g}"
        for s, score in zip(segments.segments, segments.scores)
    ]
    shapes = []
    for row, (line, owners) in enumerate(zip(chars, owner)):
        for col, (char, index) in enumerate(zip(line, owners)):
            z[row, col] = values[index]
            text[row, col] = char
            hover[row, col] = labels[index]
        marked = [col for col, index in enumerate(owners) if segments.in_target[index]]
        if marked:  # The selected target span gets an outline on each row it covers.
            shapes.append({"type": "rect", "x0": marked[0] - 0.5, "x1": marked[-1] + 0.5, "y0": row - 0.5, "y1": row + 0.5, "line": {"color": "#111827", "width": 2}})
    trace = go.Heatmap(
        z=z, text=text, texttemplate="%{text}", hovertext=hover, hovertemplate="%{hovertext}<extra></extra>",
        textfont={"family": "monospace", "size": 11}, xgap=0, ygap=1, coloraxis="coloraxis",
    )
    return trace, shapes, rows


def _coloraxis(signed: bool, domain: float, gain: float, title: str) -> dict[str, Any]:
    ticks = np.linspace(-1 if signed else 0, 1, 5)
    return {
        "colorscale": _SIGNED if signed else _UNSIGNED,
        "cmin": -1 if signed else 0,
        "cmax": 1,
        "colorbar": {"tickvals": list(_shown(ticks, gain)), "ticktext": [f"{t * domain:.3g}" for t in ticks], "title": {"text": title.replace(", ", "<br>"), "side": "right"}},
    }


def text_heatmap(segments: SegmentScores, *, gain: float = DEFAULT_GAIN, width: int = 100, self_salience: bool = False, domain: float | None = None, title: str = "", score: str = "score") -> go.Figure:
    """The text as a grid of characters coloured by their segment's score.

    Args:
        segments: scored segments (e.g. `result.segments("words")`).
        gain: colormap intensity, 0–1.
        width: characters per row.
        self_salience: colour the target span too (it is outlined either way).
        domain: colour domain D; default the segments' own.
        title: figure title.
        score: what a score means, for the colour bar (`score_title`).

    Returns:
        A figure with one heatmap trace; hover shows segment text and score.
    """
    domain = domain if domain is not None else segments.domain(self_salience=self_salience)
    trace, shapes, rows = _heatmap(segments, domain=domain, gain=gain, width=width, self_salience=self_salience)
    figure = go.Figure(trace)
    figure.update_layout(
        title=title, shapes=shapes, coloraxis=_coloraxis(segments.signed, domain, gain, score),
        height=max(200, rows * _ROW_PX + 80), margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10}, plot_bgcolor="white",
    )
    figure.update_xaxes(visible=False, range=[-0.5, width - 0.5])
    figure.update_yaxes(visible=False, autorange="reversed")
    return figure


def top_segments_figure(segments: SegmentScores, *, k: int = 10, self_salience: bool = False, score: str = "score") -> go.Figure:
    """Horizontal bars of the k segments with the largest |score|, each named so that no two read alike."""
    picked = segments.top(k, self_salience=self_salience)
    names = segment_names(segments)
    labels = [names[i] for i in picked]
    scores = [float(segments.scores[i]) for i in picked][::-1]
    # Signed bars take the heatmap's ends: negative (supporting) orange, positive blue.
    colours = [_SIGNED[0][1] if v < 0 else _SIGNED[-1][1] for v in scores] if segments.signed else _UNSIGNED[-1][1]
    figure = go.Figure(go.Bar(x=scores, y=labels[::-1], orientation="h", marker_color=colours))
    figure.update_layout(height=max(200, 28 * len(picked) + 60), margin={"l": 10, "r": 10, "t": 30, "b": 10}, title=f"Top {len(picked)} segments")
    figure.update_xaxes(title=score)
    return figure


def segment_names(segments: SegmentScores, *, length: int = 40) -> list[str]:
    """A short, distinct name per segment: its template part's name, else its opening words.

    Words repeat ("the") and so can part names, so a name seen before gets
    "(#k)": a bar chart merges bars of equal names.
    """
    taken: set[str] = set()
    names = []
    for segment in segments.segments:
        flat = segment.label or " ".join(segment.text.split())
        base = (flat if len(flat) <= length else flat[: length - 1] + "…") or repr(segment.text)
        name, k = base, 1
        while name in taken:  # A segment's own text may read "the (#2)" too.
            k += 1
            name = f"{base} (#{k})"
        taken.add(name)
        names.append(name)
    return names


def ab_figure(a: SegmentScores, b: SegmentScores, *, titles: Sequence[str] = ("A", "B"), gain: float = DEFAULT_GAIN, width: int = 60, self_salience: bool = False, score: str = "score") -> go.Figure:
    """Two versions' salience side by side on one shared colour scale (`score` titles it)."""
    domain = max(a.domain(self_salience=self_salience), b.domain(self_salience=self_salience))
    figure = make_subplots(rows=1, cols=2, subplot_titles=list(titles), horizontal_spacing=0.02)
    tallest = 0
    for col, segments in enumerate((a, b), start=1):
        trace, shapes, rows = _heatmap(segments, domain=domain, gain=gain, width=width, self_salience=self_salience)
        figure.add_trace(trace, row=1, col=col)
        for shape in shapes:
            figure.add_shape(shape, row=1, col=col)
        tallest = max(tallest, rows)
    figure.update_layout(coloraxis=_coloraxis(a.signed or b.signed, domain, gain, score), height=max(200, tallest * _ROW_PX + 80), margin={"l": 10, "r": 10, "t": 40, "b": 10}, plot_bgcolor="white")
    figure.update_xaxes(visible=False, range=[-0.5, width - 0.5])
    figure.update_yaxes(visible=False, autorange="reversed")
    return figure


def part_shift_table(a: SegmentScores, b: SegmentScores) -> list[dict[str, Any]]:
    """How attribution moved between template parts of two versions.

    Args:
        a: version A scored at granularity `parts`.
        b: version B scored at granularity `parts`.

    Returns:
        One row per part name (parts of the same name, e.g. loop iterations,
        summed; the target is left out): `part`, `score_a`, `score_b`,
        `share_a`, `share_b` (fractions of each version's total |score|) and
        `shift` = share_b − share_a; largest |shift| first.
    """
    totals: dict[str, list[float]] = {}
    shares = []
    for column, segments in enumerate((a, b)):
        keep = ~segments.in_target
        whole = float(np.abs(segments.scores[keep]).sum()) or 1.0
        shares.append(whole)
        for segment, score, kept in zip(segments.segments, segments.scores, keep):
            if kept:
                totals.setdefault(segment.label or "(unlabelled)", [0.0, 0.0])[column] += float(score)
    rows = [
        {"part": name, "score_a": sa, "score_b": sb, "share_a": abs(sa) / shares[0], "share_b": abs(sb) / shares[1], "shift": abs(sb) / shares[1] - abs(sa) / shares[0]}
        for name, (sa, sb) in totals.items()
    ]
    return sorted(rows, key=lambda row: -abs(row["shift"]))


def _label(text: str, length: int = 24) -> str:
    """A piece's text on one line for an axis: escapes shown (`\\n`), long ones cut."""
    shown = repr(text)[1:-1] or "∅"
    return shown if len(shown) <= length else shown[: length - 1] + "…"


def token_matrix_figure(matrix: SegmentMatrix, *, gain: float = DEFAULT_GAIN, score: str = "score", max_labels: int = 60) -> go.Figure:
    """The token-by-token matrix as a heatmap, each row's probability as a bar beside it.

    Rows are the target's pieces (top to bottom), columns the pieces of
    prompt + target (left to right; a dotted line marks where the prompt
    ends); absent cells (a piece at or after the row's) stay blank. Hover
    names the row's piece and probability, the column's piece and the
    score. Bars of rows where the target could have gone another way are
    orange, as in the step-scores figure; clicking a bar selects its row
    (point index = row).

    Args:
        matrix: a grouped matrix (`TokenMatrix.segments`).
        gain: colormap intensity, 0–1.
        score: what a score means, for the colour bar (`score_title`).
        max_labels: most column labels drawn (every k-th beyond that; hover names them all).

    Returns:
        A figure: a heatmap trace and a horizontal bar trace on a shared row axis.
    """
    domain = matrix.domain()
    values = _shown(np.clip(matrix.values / domain, -1.0 if matrix.signed else 0.0, 1.0), gain)
    rows = [_label(row.text) for row in matrix.rows]
    columns = [_label(column.text) for column in matrix.columns]
    probabilities = [row.probability for row in matrix.row_scores]
    hover = [
        [
            f"target {html.escape(repr(row.text))} (p = {probability:.3f})<br>source {html.escape(repr(column.text[:80]))}"
            + ("" if np.isnan(value) else f"<br>score {value:.4g}")
            for column, value in zip(matrix.columns, line)
        ]
        for row, probability, line in zip(matrix.rows, probabilities, matrix.values)
    ]
    figure = make_subplots(rows=1, cols=2, shared_yaxes=True, column_widths=[0.86, 0.14], horizontal_spacing=0.01)
    figure.add_trace(
        go.Heatmap(
            z=values, hovertext=hover, hovertemplate="%{hovertext}<extra></extra>", coloraxis="coloraxis", xgap=1, ygap=1,
        ),
        row=1, col=1,
    )
    forks = [p < FORK_PROBABILITY or s.rank > 1 for p, s in zip(probabilities, matrix.row_scores)]
    figure.add_trace(
        go.Bar(
            x=probabilities, y=list(range(len(rows))), orientation="h", name="probability",
            marker_color=["#c2410c" if fork else "#5b2c9f" for fork in forks],
            hovertext=[f"{html.escape(repr(row.text))}: p = {p:.3f} · rank {s.rank}" for row, p, s in zip(matrix.rows, probabilities, matrix.row_scores)],
            hoverinfo="text", showlegend=False,
        ),
        row=1, col=2,
    )
    prompt_columns = sum(1 for column in matrix.columns if column.end <= matrix.prompt_length)
    if 0 < prompt_columns < len(columns):
        figure.add_vline(x=prompt_columns - 0.5, line={"color": "#111827", "width": 1, "dash": "dot"}, row=1, col=1)
    every = max(1, -(-len(columns) // max_labels))
    figure.update_layout(
        coloraxis=_coloraxis(matrix.signed, domain, gain, score),
        height=max(260, 22 * len(rows) + 170), margin={"l": 10, "r": 10, "t": 30, "b": 10}, plot_bgcolor="white",
        clickmode="event+select",
    )
    figure.update_xaxes(
        tickmode="array", tickvals=list(range(0, len(columns), every)), ticktext=columns[::every], tickangle=-60,
        tickfont={"size": 10}, row=1, col=1,
    )
    figure.update_xaxes(range=[0, 1.05], title="probability", row=1, col=2)
    figure.update_yaxes(
        tickmode="array", tickvals=list(range(len(rows))), ticktext=rows, autorange="reversed", tickfont={"size": 10},
        row=1, col=1,
    )
    return figure

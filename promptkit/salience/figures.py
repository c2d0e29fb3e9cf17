"""Plotly figures of segment salience: top-k bars, the token-by-token matrix; the A/B part table.

The explained text itself is HTML (`promptkit.salience.text_html`), which
the browser lays out as text. Labels here are user text inside Plotly's
SVG: escaped (Plotly reads tags in labels), cut only between grapheme
clusters, and right-to-left ones isolated so that what follows them keeps
its place. Colours come from the shared scale (`promptkit.salience.colours`).
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from promptkit.graphemes import isolated, shorten
from promptkit.salience.aggregation import SegmentScores
from promptkit.salience.colours import DEFAULT_GAIN, SIGNED_SCALE, UNSIGNED_SCALE, scale, shown, ticks
from promptkit.salience.methods import get_method
from promptkit.salience.token_matrix import SegmentMatrix
from promptkit.steps import FORK_PROBABILITY

# Control characters a label shows as escapes; every other character shows as itself.
_VISIBLE_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


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


def _coloraxis(signed: bool, domain: float, gain: float, title: str) -> dict[str, Any]:
    places, labels = zip(*ticks(signed, domain, gain))
    low = -1 if signed else 0
    return {
        "colorscale": [list(stop) for stop in scale(signed)],
        "cmin": low,
        "cmax": 1,
        # Tick places are 0–1 along the bar; the axis runs from cmin to 1.
        "colorbar": {"tickvals": [low + place * (1 - low) for place in places], "ticktext": list(labels), "title": {"text": title.replace(", ", "<br>"), "side": "right"}},
    }


def plotly_text(text: str) -> str:
    """User text made safe for a Plotly label or hover: its tags escaped (Plotly reads tags in them)."""
    return html.escape(text, quote=False)


def top_segments_figure(segments: SegmentScores, *, k: int = 10, self_salience: bool = False, score: str = "score") -> go.Figure:
    """Horizontal bars of the k segments with the largest |score|, each named so that no two read alike."""
    picked = segments.top(k, self_salience=self_salience)
    names = segment_names(segments)
    labels = [plotly_text(names[i]) for i in picked]
    scores = [float(segments.scores[i]) for i in picked][::-1]
    # Signed bars take the text colour scale's ends: negative (supporting) orange, positive blue.
    colours = [SIGNED_SCALE[0][1] if v < 0 else SIGNED_SCALE[-1][1] for v in scores] if segments.signed else UNSIGNED_SCALE[-1][1]
    figure = go.Figure(
        go.Bar(
            x=scores, y=labels[::-1], orientation="h", marker_color=colours,
            hovertemplate="%{y}<br>score %{x:.4g}<extra></extra>",
        )
    )
    figure.update_layout(height=max(200, 28 * len(picked) + 60), margin={"l": 10, "r": 10, "t": 30, "b": 10}, title=f"Top {len(picked)} segments")
    figure.update_xaxes(title=score)
    return figure


def segment_names(segments: SegmentScores, *, length: int = 40) -> list[str]:
    """A short, distinct name per segment: its template part's name, else its opening words.

    Names are cut between grapheme clusters, and right-to-left ones are bidi
    isolates (`promptkit.graphemes.isolated`), so that in a left-to-right
    label an ellipsis or "(#2)" stays where it belongs. Words repeat ("the")
    and so can part names, so a name seen before gets "(#k)": a bar chart
    merges bars of equal names.
    """
    taken: set[str] = set()
    names = []
    for segment in segments.segments:
        flat = segment.label or " ".join(segment.text.split())
        base = isolated(shorten(flat, length) or _visible(segment.text))
        name, k = base, 1
        while name in taken:  # A segment's own text may read "the (#2)" too.
            k += 1
            name = f"{base} (#{k})"
        taken.add(name)
        names.append(name)
    return names


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


def _visible(text: str) -> str:
    """`text` with line breaks and tabs shown as escapes (`\\n`), `∅` if empty; other characters as they are."""
    return "".join(_VISIBLE_ESCAPES.get(char, char) for char in text) or "∅"


def _label(text: str, length: int = 24) -> str:
    """A piece's text on one line for a Plotly axis or hover: escapes shown, cut between clusters, made safe."""
    return plotly_text(isolated(shorten(_visible(text), length)))


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
    values = shown(np.clip(matrix.values / domain, -1.0 if matrix.signed else 0.0, 1.0), gain)
    rows = [_label(row.text) for row in matrix.rows]
    columns = [_label(column.text) for column in matrix.columns]
    probabilities = [row.probability for row in matrix.row_scores]
    hover = [
        [
            f"target {_label(row.text, 80)} (p = {probability:.3f})<br>source {_label(column.text, 80)}"
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
            hovertext=[f"{_label(row.text, 80)}: p = {p:.3f} · rank {s.rank}" for row, p, s in zip(matrix.rows, probabilities, matrix.row_scores)],
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

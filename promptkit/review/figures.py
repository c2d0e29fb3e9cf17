"""Plotly charts of a review task's results: each pair's win rate with its 95% interval, each version's rubric scores."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go


def win_rate_figure(summary: Mapping[str, Any]) -> go.Figure:
    """Horizontal bars: how often the first version of each pair won its decisive verdicts.

    Args:
        summary: a task summary (`promptkit.workflows.task_summary`).

    Returns:
        One bar per pair (`vA vs vB`), in [0, 1], with the Wilson interval as
        error bars and the counts on hover; a dotted line at 0.5 (no preference).
    """
    pairs = summary["pairs"]
    names = [f"v{pair['a']} vs v{pair['b']}" for pair in pairs]
    rates = [pair["win_rate_a"] for pair in pairs]
    # A pair with no decisive verdict yet has no rate: an empty bar without error bars.
    values = [rate["value"] or 0.0 for rate in rates]
    above = [0.0 if rate["high"] is None else rate["high"] - value for rate, value in zip(rates, values)]
    below = [0.0 if rate["low"] is None else value - rate["low"] for rate, value in zip(rates, values)]
    figure = go.Figure(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            error_x={"type": "data", "symmetric": False, "array": above, "arrayminus": below},
            customdata=[[p["wins_a"], p["wins_b"], p["ties"], p["both_bad"]] for p in pairs],
            hovertemplate="%{y}: first version wins %{x:.0%}<br>wins %{customdata[0]} · losses %{customdata[1]} · "
            "ties %{customdata[2]} · both bad %{customdata[3]}<extra></extra>",
        )
    )
    figure.add_vline(x=0.5, line_dash="dot", line_color="grey")
    figure.update_layout(
        title="Win rate of the first version over decisive verdicts (95% interval)",
        xaxis={"range": [0, 1], "tickformat": ".0%"},
        margin={"t": 50},
        height=120 + 40 * len(pairs),
    )
    return figure


def rubric_figure(summary: Mapping[str, Any]) -> go.Figure:
    """Grouped bars: each version's mean score (1–5) on each criterion of a rubric task.

    Args:
        summary: a rubric task's summary (`promptkit.workflows.task_summary`).

    Returns:
        One bar group per criterion, one bar per version (`v1`, `v2`…), the
        number of scores on hover; a criterion not scored yet has no bar.
    """
    rubric: Mapping[str, Mapping[str, Mapping[str, Any]]] = summary["rubric"]
    criteria = list(rubric)
    versions = list(next(iter(rubric.values()), {}))
    figure = go.Figure(
        [
            go.Bar(
                name=version,
                x=criteria,
                y=[rubric[criterion][version]["mean"] for criterion in criteria],
                customdata=[rubric[criterion][version]["n"] for criterion in criteria],
                hovertemplate=f"{version} · %{{x}}: mean %{{y:.2f}} over %{{customdata}} score(s)<extra></extra>",
            )
            for version in versions
        ]
    )
    figure.update_layout(
        title="Mean score per criterion (1 poor – 5 very good)",
        barmode="group",
        yaxis={"range": [0, 5], "dtick": 1},
        margin={"t": 50},
        height=360,
    )
    return figure

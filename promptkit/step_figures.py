"""Plotly chart of a completion's step scores: each token's probability, the entropy, the forks."""

from __future__ import annotations

import html
from collections.abc import Sequence

import plotly.graph_objects as go

from promptkit.steps import StepScore, alternatives_text, is_fork


def step_scores_figure(steps: Sequence[StepScore]) -> go.Figure:
    """Bars of each token's probability with the step's entropy as a line.

    Args:
        steps: a completion's step scores, in order.

    Returns:
        A figure with one bar per token (x labels are the token texts, hover
        shows probability, entropy, rank and the alternatives); forks are
        coloured orange.
    """
    positions = list(range(len(steps)))
    hover = [
        f"{html.escape(repr(step.text))}<br>p = {step.probability:.3f} · rank {step.rank}<br>"
        f"entropy {step.entropy:.2f} nats<br>{html.escape(alternatives_text(step))}"
        for step in steps
    ]
    forked = [is_fork(step) for step in steps]
    figure = go.Figure()
    figure.add_trace(
        go.Bar(
            name="probability",
            x=positions,
            y=[step.probability for step in steps],
            marker_color=["#c2410c" if fork else "#5b2c9f" for fork in forked],
            hovertext=hover,
            hoverinfo="text",
            showlegend=False,  # Its colours mark forks, which the title explains.
        )
    )
    figure.add_trace(
        go.Scatter(
            name="entropy (nats)",
            x=positions,
            y=[step.entropy for step in steps],
            yaxis="y2",
            mode="lines+markers",
            line={"color": "#64748b"},
            hoverinfo="skip",
        )
    )
    figure.update_layout(
        title="Step scores (orange: the completion could have gone another way here)",
        yaxis={"range": [0, 1.05], "title": "probability"},
        yaxis2={"overlaying": "y", "side": "right", "title": "entropy (nats)", "rangemode": "tozero"},
        xaxis={
            "tickmode": "array",
            "tickvals": positions,
            "ticktext": [repr(step.text)[1:-1] for step in steps],
            "tickangle": -60,
            "tickfont": {"size": 10},
        },
        legend={"orientation": "h", "y": 1.12},
        margin={"t": 70, "b": 90},
        bargap=0.15,
    )
    return figure

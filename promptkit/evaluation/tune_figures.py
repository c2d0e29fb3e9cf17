"""Plotly charts of training an adapter: the loss curve, and reliability curves of label probabilities."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go

from promptkit.evaluation.calibration import Calibration

if TYPE_CHECKING:
    from promptkit.store.adapters import AdapterRecord


def loss_curve_figure(
    step_losses: Sequence[float], epochs: Sequence[Mapping[str, Any]], *, steps_per_epoch: int | None = None
) -> go.Figure:
    """The training loss step by step, with each epoch's validation loss where that epoch ended.

    Args:
        step_losses: the training loss after each step so far (may be empty:
            a stored adapter keeps only its epochs).
        epochs: the epochs done, as `EpochRecord.to_json` writes them
            (`epoch`, `loss`, `validation_loss`, `validation_macro_f1`).
        steps_per_epoch: steps in one epoch, to place the epochs on the step
            axis; None puts them at their epoch number instead (and the
            per-epoch training loss then stands in for the steps).

    Returns:
        A figure with the training-loss line and the validation-loss markers.
    """
    figure = go.Figure()
    if step_losses:
        figure.add_trace(go.Scatter(x=list(range(1, len(step_losses) + 1)), y=list(step_losses), mode="lines",
                                    name="training loss (per step)"))
    def at(record: Mapping[str, Any]) -> int:
        return int(record["epoch"]) * steps_per_epoch if steps_per_epoch else int(record["epoch"])

    if epochs and not step_losses:
        figure.add_trace(go.Scatter(x=[at(r) for r in epochs], y=[r["loss"] for r in epochs], mode="lines+markers",
                                    name="training loss (epoch mean)"))
    if epochs:
        figure.add_trace(
            go.Scatter(
                x=[at(r) for r in epochs],
                y=[r["validation_loss"] for r in epochs],
                mode="lines+markers",
                name="validation loss",
                text=[f"epoch {r['epoch']}: validation macro-F1 {r['validation_macro_f1']:.2f}" for r in epochs],
                hovertemplate="%{text}<br>validation loss %{y:.3f}<extra></extra>",
            )
        )
    figure.update_layout(
        title="Loss (negative log-likelihood of the label)",
        xaxis_title="step" if steps_per_epoch or step_losses else "epoch",
        yaxis_title="loss",
        legend={"orientation": "h", "y": -0.25},
        margin={"t": 50, "b": 40},
    )
    return figure


def adapter_loss_figure(record: AdapterRecord) -> go.Figure:
    """A stored adapter's loss curve: its steps' training loss and its epochs' validation loss."""
    metrics = record.metrics
    steps_per_epoch = math.ceil(int(metrics["train_size"]) / int(record.settings["batch_size"]))
    figure = loss_curve_figure(metrics.get("step_losses", []), metrics["history"], steps_per_epoch=steps_per_epoch)
    return figure.update_layout(title=f"Training loss of adapter:{record.name}")


def reliability_figure(curves: Mapping[str, Calibration | None], *, title: str = "Reliability") -> go.Figure:
    """Reliability curves: mean top probability per bin against the share of those cases that were right.

    Args:
        curves: a name (e.g. `before`, `after`, a version) → its calibration;
            None entries are left out.
        title: the figure's title.

    Returns:
        A figure with the diagonal of perfect calibration and one line per
        curve, its expected calibration error in the legend; hovering a
        point shows its bin and case count.
    """
    figure = go.Figure(
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated", line={"dash": "dot", "color": "grey"})
    )
    for name, curve in curves.items():
        if curve is None:
            continue
        figure.add_trace(
            go.Scatter(
                x=[b.mean_probability for b in curve.bins],
                y=[b.observed_frequency for b in curve.bins],
                mode="lines+markers",
                name=f"{name} (ECE {curve.expected_calibration_error:.3f})",
                text=[f"bin {b.lower:.1f}–{b.upper:.1f}: {b.count} case(s)" for b in curve.bins],
                hovertemplate="%{text}<br>mean probability %{x:.2f}, right %{y:.2f}<extra></extra>",
            )
        )
    figure.update_layout(
        title=title,
        xaxis={"title": "probability of the likeliest label", "range": [0, 1.02]},
        yaxis={"title": "share right", "range": [0, 1.02]},
        legend={"orientation": "h", "y": -0.25},
        margin={"t": 50, "b": 40},
    )
    return figure

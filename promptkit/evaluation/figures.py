"""Plotly charts of a comparison: per-version summary, the cell matrix, confusion matrices."""

from __future__ import annotations

import plotly.graph_objects as go

from promptkit.columns import Column
from promptkit.evaluation.outcomes import ClassifierMetrics
from promptkit.evaluation.results import MatrixResult

_METRICS = (
    ("pass_rate", "Pass rate"),
    ("expected_likelihood", "Likelihood of the expected outcome"),
    ("agreement", "Agreement of samples"),
)


def version_name(result: MatrixResult, number: int) -> str:
    """`v2 fewshot-fixed`: a version's number and label, for axes and headings."""
    label = next((version.label for version in result.versions if version.number == number), None)
    return f"v{number} {label}" if label else f"v{number}"


def column_name(result: MatrixResult, column: Column) -> str:
    """`v2 fewshot-fixed`, or `v1 plain + adapter:dishes`: a column's version, and its adapter, for axes and headings."""
    name = version_name(result, column.version)
    return name if column.adapter is None else f"{name} + adapter:{column.adapter}"


def summary_figure(result: MatrixResult) -> go.Figure:
    """Grouped bars: pass rate, expected-outcome likelihood and agreement per column.

    Args:
        result: the comparison.

    Returns:
        A figure with one bar group per column (metrics not computed are
        left out), each value in [0, 1].
    """
    names = [column_name(result, column) for column in result.columns]
    figure = go.Figure()
    for key, title in _METRICS:
        values = [getattr(result.summary[column], key) for column in result.columns]
        if all(value is None for value in values):
            continue
        figure.add_trace(
            go.Bar(
                name=title,
                x=names,
                y=values,
                text=[f"{value:.2f}" if value is not None else "–" for value in values],
                textposition="outside",
            )
        )
    figure.update_layout(
        barmode="group",
        title="Per-version summary",
        yaxis={"range": [0, 1.1], "title": "rate / likelihood"},
        legend={"orientation": "h", "y": -0.2},
        margin={"t": 50, "b": 40},
    )
    return figure


def matrix_figure(result: MatrixResult) -> go.Figure:
    """Heatmap of cells: likelihood of the expected outcome, else pass (1) / fail (0).

    Args:
        result: the comparison.

    Returns:
        A figure with the comparison's columns as rows and cases as columns; hovering a
        cell shows its status.
    """
    rows, hover = [], []
    for column in result.columns:
        values, texts = [], []
        for case in result.cases:
            cell = result.cell(column, case.id)
            value = cell.expected_likelihood
            if value is None and cell.passed is not None:
                value = float(cell.passed)
            values.append(value)
            status = "error: " + cell.error if cell.error else {True: "pass", False: "fail", None: "not checked"}[cell.passed]
            texts.append(status)
        rows.append(values)
        hover.append(texts)
    figure = go.Figure(
        go.Heatmap(
            z=rows,
            x=[case.id for case in result.cases],
            y=[column_name(result, column) for column in result.columns],
            text=hover,
            hovertemplate="%{y} × %{x}<br>%{text}<br>value %{z:.2f}<extra></extra>",
            zmin=0,
            zmax=1,
            colorscale="RdYlGn",
        )
    )
    figure.update_layout(title="Cells: expected-outcome likelihood (or pass / fail)", margin={"t": 50})
    return figure


def confusion_figure(metrics: ClassifierMetrics, *, title: str) -> go.Figure:
    """Heatmap of a confusion matrix: labelled answer (rows) against the likeliest label (columns).

    Args:
        metrics: one version's classifier metrics.
        title: the figure's title (e.g. the version's name).

    Returns:
        A figure with one cell per (true, predicted) pair, annotated with its count.
    """
    figure = go.Figure(
        go.Heatmap(
            z=metrics.confusion,
            x=list(metrics.labels),
            y=list(metrics.labels),
            text=metrics.confusion,
            texttemplate="%{text}",
            hovertemplate="answer %{y}, likeliest %{x}: %{z} case(s)<extra></extra>",
            colorscale="Blues",
            showscale=False,
        )
    )
    figure.update_layout(
        title=title, xaxis_title="likeliest label", yaxis_title="labelled answer", yaxis_autorange="reversed",
        margin={"t": 50},
    )
    return figure

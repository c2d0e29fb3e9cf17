"""Tune page pieces: the live progress of a training, and a trained adapter's results."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.state import KEY_NOTICE
from promptkit.evaluation.calibration import calibration_from_json
from promptkit.evaluation.tune_figures import adapter_loss_figure, loss_curve_figure, reliability_figure
from promptkit.models.lora import TrainingProgress
from promptkit.store.adapters import AdapterRecord

# The chart is redrawn at most this often (and after every epoch): a redraw sends the whole figure.
_REDRAW_S = 0.5


class LiveTraining:
    """Receives a training's progress reports and shows them: the bar's steps, loss, validation and time left, the loss curve.

    Args:
        bar: an `st.progress` element.
        chart: an `st.empty` slot the loss curve is drawn in.
        steps_per_epoch: steps in one epoch, to place each epoch's validation loss.
    """

    def __init__(self, bar: Any, chart: Any, *, steps_per_epoch: int) -> None:
        self._bar = bar
        self._chart = chart
        self._steps_per_epoch = steps_per_epoch
        self._losses: list[float] = []
        self._epochs: list[dict[str, float]] = []
        self._drawn_at = 0.0

    def phase(self, status: Any) -> Callable[[str], None]:
        """A callback for the training's phase lines: written in `status` (an `st.status`) and on the bar until the first step."""

        def say(line: str) -> None:
            status.write(line)
            if not self._losses:
                self._bar.progress(0.0, text=line)

        return say

    def __call__(self, report: TrainingProgress) -> None:
        """Shows one report; a click elsewhere on the page (Cancel) stops the run here."""
        epoch_done = report.validation_loss is not None
        if epoch_done:
            self._epochs.append(
                {"epoch": report.epoch, "loss": report.loss, "validation_loss": report.validation_loss,
                 "validation_macro_f1": report.validation_macro_f1}
            )
        else:
            self._losses.append(report.loss)
        self._bar.progress(min(report.step / max(report.steps, 1), 1.0), text=progress_text(report, self._epochs))
        if epoch_done or time.monotonic() - self._drawn_at >= _REDRAW_S:
            self._drawn_at = time.monotonic()
            figure = loss_curve_figure(self._losses, self._epochs, steps_per_epoch=self._steps_per_epoch)
            self._chart.plotly_chart(figure, width="stretch", key=f"pk_tune_live::{report.step}::{len(self._epochs)}")


def progress_text(report: TrainingProgress, epochs: list[dict[str, float]]) -> str:
    """`Epoch 2 · step 7 of 12 · loss 0.412 · validation macro-F1 0.75 · about 9 s left`."""
    parts = [f"Epoch {report.epoch}", f"step {report.step} of {report.steps}", f"loss {report.loss:.3f}"]
    if epochs:
        last = epochs[-1]
        parts.append(f"validation loss {last['validation_loss']:.3f}, macro-F1 {last['validation_macro_f1']:.2f}")
    parts.append(f"about {math.ceil(report.seconds_left)} s left")
    return " · ".join(parts)


def cancelled_training_notice() -> None:
    """Leaves the message shown after the user cancelled a training (`on_click` of its Cancel button)."""
    st.session_state[KEY_NOTICE] = (
        "Training cancelled. No adapter was saved or recorded; the model is as it was. Change the settings and "
        "train again when you like."
    )


def metrics_rows(metrics: Mapping[str, Any]) -> list[dict[str, str]]:
    """The before/after table of a stored adapter's test-split metrics: one row per model."""

    def shown(value: float | None) -> str:
        return "–" if value is None else f"{value:.2f}"

    rows = []
    for when, name in (("before", "Base model"), ("after", "With the adapter")):
        values = metrics["test_metrics"][when]
        calibration = calibration_from_json(values.get("calibration"))
        rows.append({
            "Model": name,
            "Accuracy": shown(values["accuracy"]),
            "Macro F1": shown(values["macro_f1"]),
            "ROC-AUC": shown(values["roc_auc"]),
            "Calibration error (ECE)": "–" if calibration is None else f"{calibration.expected_calibration_error:.3f}",
            "Confusion (rows: answer)": str(values["confusion"]),
        })
    return rows


def show_adapter(record: AdapterRecord, model_name: str) -> None:
    """A trained adapter: what it was trained on, its loss curve, its before/after metrics and reliability curves."""
    metrics = record.metrics
    st.markdown(
        f"**{record.name}** · trained on v{record.version} of {record.family} by {record.created_by} · "
        f"rank {record.rank}, {record.epochs} epoch(s) run (best: {metrics['best_epoch']}), seed {record.seed} · "
        f"{metrics['train_size']} training, {metrics['validation_size']} validation, {metrics['test_size']} test cases"
    )
    st.caption(f"Load it anywhere as model `{model_name}` (sidebar, `--model`, `PROMPTKIT_MODEL`).")
    st.dataframe(pd.DataFrame(metrics_rows(metrics)), hide_index=True, width="stretch")
    st.caption(
        "On the test split, from the label probabilities. Calibration error: how far the likeliest label's "
        "probability is from how often it is right (0 is perfectly calibrated)."
    )
    left, right = st.columns(2)
    left.plotly_chart(adapter_loss_figure(record), width="stretch", key=f"pk_tune_curve::{record.name}")
    curves = {
        "before": calibration_from_json(metrics["test_metrics"]["before"].get("calibration")),
        "after": calibration_from_json(metrics["test_metrics"]["after"].get("calibration")),
    }
    right.plotly_chart(
        reliability_figure(curves, title="Reliability on the test split"), width="stretch",
        key=f"pk_tune_reliability::{record.name}",
    )

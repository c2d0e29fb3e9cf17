"""One self-contained, offline HTML report of a comparison.

Plotly's JavaScript is inlined once (with the first chart); later charts
reuse it. The page is rendered by Jinja2 with autoescaping on, so every
piece of user text (case values, completions, template text, error
messages) is escaped. Two kinds of snippet are inserted raw: the charts
Plotly generates (it encodes their data as `\\u003c`-escaped JSON) and the
salience texts, which `promptkit.salience.text_html` builds with every piece
of text escaped. Text blocks take each line's direction from its first
letter, so Hebrew and Persian lines read right to left.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jinja2
import plotly.graph_objects as go
from markupsafe import Markup

from promptkit.diff import DiffSpan, diff_texts
from promptkit.evaluation.calibration import calibration_from_json
from promptkit.evaluation.figures import column_name, matrix_figure, summary_figure, version_name
from promptkit.evaluation.results import MatrixResult
from promptkit.evaluation.tune_figures import adapter_loss_figure
from promptkit.review.figures import rubric_figure, win_rate_figure

if TYPE_CHECKING:
    from promptkit.store.adapters import AdapterRecord

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: .4em .6em; vertical-align: top; text-align: left; }
pre { white-space: pre-wrap; margin: 0; font-size: .85em; max-width: 40em; unicode-bidi: plaintext; }
.pass { color: #1a7f37; font-weight: bold; } .fail { color: #cf222e; font-weight: bold; }
.error { color: #9a6700; } ins { background: #d1f7d6; text-decoration: none; }
del { background: #ffd7d5; } .muted { color: #777; font-size: .85em; }
</style></head><body>
<h1>{{ title }}</h1>
<p class="muted">Model {{ result.model }} · family {{ result.family }} · {{ created }}</p>
<h2>Summary</h2>
<table><tr><th>version</th><th>pass rate</th><th>expected-outcome likelihood</th><th>agreement</th>
<th>accuracy</th><th>macro F1</th><th>ROC-AUC</th><th>calibration error (ECE)</th><th>errors</th></tr>
{% for row in summary %}<tr><td>{{ row.name }}</td><td>{{ row.pass_rate }}</td><td>{{ row.expected }}</td>
<td>{{ row.agreement }}</td><td>{{ row.accuracy }}</td><td>{{ row.f1 }}</td><td>{{ row.auc }}</td><td>{{ row.ece }}</td>
<td>{{ row.errors }}</td></tr>
{% endfor %}</table>
{% for chart in charts %}<div>{{ chart }}</div>{% endfor %}
<h2>Matrix</h2>
<table><tr><th>case</th>{% for name in version_names %}<th>{{ name }}</th>{% endfor %}</tr>
{% for row in matrix %}<tr><td><b>{{ row.case.id }}</b>{% for name, value in row.case.values.items() %}
<div class="muted">{{ name }} = <bdi>{{ value }}</bdi></div>{% endfor %}</td>
{% for cell in row.cells %}<td>
{% if cell.error %}<div class="error">error: {{ cell.error }}</div>{% endif %}
{% if cell.passed is true %}<div class="pass">pass</div>{% elif cell.passed is false %}<div class="fail">fail</div>{% endif %}
<pre>{{ cell.completion }}</pre>
{% for check in cell.checks %}<div class="muted" title="{{ check.name }}">{{ check.caption() }}</div>{% endfor %}
{% for label, p in cell.outcome_likelihoods.items() %}<div class="muted">P({{ label }}) = {{ "%.3f"|format(p) }}</div>{% endfor %}
{% if cell.agreement is not none %}<div class="muted">agreement {{ "%.2f"|format(cell.agreement) }} over {{ cell.samples|length }} samples</div>{% endif %}
</td>{% endfor %}</tr>
{% endfor %}</table>
<h2>Template diffs</h2>
{% for diff in template_diffs %}<h3>{{ diff.title }}</h3><pre>{{ diff.body }}</pre>{% endfor %}
<h2>Completion diffs</h2>
<table><tr><th>case</th>{% for title in completion_titles %}<th>{{ title }}</th>{% endfor %}</tr>
{% for row in completion_diffs %}<tr><td>{{ row.case }}</td>{% for body in row.bodies %}<td><pre>{{ body }}</pre></td>{% endfor %}</tr>
{% endfor %}</table>
{% if adapters %}<h2>Adapters</h2>{% for adapter in adapters %}
<h3>adapter:{{ adapter.name }}</h3>
<p class="muted">Trained on v{{ adapter.version }} of {{ adapter.family }} by {{ adapter.created_by }}, {{ adapter.created_at }} · base model
{{ adapter.base_model }} · rank {{ adapter.rank }}, {{ adapter.epochs }} epoch(s) run, seed {{ adapter.seed }} ·
{{ adapter.train_size }} training, {{ adapter.validation_size }} validation, {{ adapter.test_size }} test cases</p>
<table><tr><th>test split</th><th>accuracy</th><th>macro F1</th><th>ROC-AUC</th><th>calibration error (ECE)</th><th>confusion (rows: answer)</th></tr>
{% for row in adapter.rows %}<tr><td>{{ row.model }}</td><td>{{ row.accuracy }}</td><td>{{ row.f1 }}</td><td>{{ row.auc }}</td>
<td>{{ row.ece }}</td><td>{{ row.confusion }}</td></tr>{% endfor %}</table>
<div>{{ adapter.chart }}</div>{% endfor %}{% endif %}
{% if salience %}<h2>Salience</h2>{% for caption, text in salience %}<h3 dir="auto">{{ caption }}</h3>{{ text }}{% endfor %}{% endif %}
{% if matrices %}<section id="token-matrices"><h2>Token by token</h2>
<p class="muted">Each row is a piece of the answer, each column a piece of the prompt and of the answer before it: how much
that piece drove the model to write that row. The bar beside a row is its probability.</p>
{% for caption, chart in matrices %}<h3 dir="auto">{{ caption }}</h3><div>{{ chart }}</div>{% endfor %}</section>{% endif %}
{% if review_tasks %}<h2>Reviews by your team</h2>{% for task in review_tasks %}
<h3>Task #{{ task.summary.task_id }}</h3><div>{{ task.chart }}</div>
{% if task.summary.mode == "rubric" %}
<table><tr><th>criterion</th>{% for version in task.versions %}<th>{{ version }}: mean (scores)</th>{% endfor %}</tr>
{% for criterion, by_version in task.summary.rubric.items() %}<tr><td>{{ criterion }}</td>{% for version in task.versions %}
<td>{% if by_version[version].mean is not none %}{{ "%.2f"|format(by_version[version].mean) }}{% else %}–{% endif %} ({{ by_version[version].n }})</td>{% endfor %}</tr>{% endfor %}</table>
<p class="muted">Krippendorff's α (ordinal): {% if task.summary.agreement.krippendorff_alpha is not none %}{{ "%.2f"|format(task.summary.agreement.krippendorff_alpha) }}{% else %}not defined yet{% endif %}
over {{ task.summary.agreement.n_items }} items and {{ task.summary.agreement.n_reviewers }} reviewer(s).
{% for reviewer in task.summary.reviewers %}{{ reviewer.name }}: {{ reviewer.done }} of {{ reviewer.total }}. {% endfor %}</p>
{% for item in task.summary.disputed %}<div class="muted">Disputed: {{ item.case }} · v{{ item.version }} — {{ item.spread|join(", ") }} —
{% for name, scores in item.scores.items() %}{{ name }}: {% for criterion, score in scores.items() %}{{ criterion }} {{ score }}{% if not loop.last %}, {% endif %}{% endfor %}{% if not loop.last %}; {% endif %}{% endfor %}</div>{% endfor %}
{% else %}
<table><tr><th>pair</th><th>first wins</th><th>second wins</th><th>ties</th><th>both bad</th><th>win rate of the first (95% interval)</th><th>p (sign test)</th></tr>
{% for pair in task.summary.pairs %}<tr><td>v{{ pair.a }} vs v{{ pair.b }}</td><td>{{ pair.wins_a }}</td><td>{{ pair.wins_b }}</td>
<td>{{ pair.ties }}</td><td>{{ pair.both_bad }}</td><td>{% if pair.win_rate_a.value is not none %}{{ "%.2f"|format(pair.win_rate_a.value) }}
({{ "%.2f"|format(pair.win_rate_a.low) }}–{{ "%.2f"|format(pair.win_rate_a.high) }}){% else %}–{% endif %}</td>
<td>{% if pair.p_value is not none %}{{ "%.3f"|format(pair.p_value) }}{% else %}–{% endif %}</td></tr>{% endfor %}</table>
<p class="muted">Krippendorff's α (nominal): {% if task.summary.agreement.krippendorff_alpha is not none %}{{ "%.2f"|format(task.summary.agreement.krippendorff_alpha) }}{% else %}not defined yet{% endif %}
over {{ task.summary.agreement.n_items }} items and {{ task.summary.agreement.n_reviewers }} reviewer(s).
{% for reviewer in task.summary.reviewers %}{{ reviewer.name }}: {{ reviewer.done }} of {{ reviewer.total }}. {% endfor %}</p>
{% for item in task.summary.disputed %}<div class="muted">Disputed: {{ item.case }} · v{{ item.a }} vs v{{ item.b }} —
{% for name, verdict in item.verdicts.items() %}{{ name }}: {{ verdict }}{% if not loop.last %}, {% endif %}{% endfor %}</div>{% endfor %}
{% endif %}
{% endfor %}{% endif %}
{% if reviews is not none %}<section id="reviews"><h2>Reviewers' notes</h2>
<table><tr><th>When</th><th>About</th><th>Verdict</th><th>Comment</th><th>Reviewer</th></tr>
{% for review in reviews %}<tr><td>{{ review.when }}</td><td>{{ review.about }}</td><td><b>{{ review.verdict }}</b></td>
<td><pre>{{ review.comment }}</pre></td><td>{{ review.reviewer }}</td></tr>
{% else %}<tr><td colspan="5">No reviews yet.</td></tr>{% endfor %}</table></section>{% endif %}
</body></html>
"""

_ENVIRONMENT = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)


@dataclasses.dataclass(frozen=True)
class ReviewNote:
    """One reviewer's verdict as the report lists it.

    Attributes:
        when: when it was given, as shown.
        about: what it is about ("this comparison", "run #12 · v2 · case").
        verdict: "good", "bad" or "unsure".
        comment: the reviewer's words.
        reviewer: who.
    """

    when: str
    about: str
    verdict: str
    comment: str
    reviewer: str


def render_report(
    result: MatrixResult,
    *,
    salience: Mapping[str, str] | None = None,
    matrix_figures: Mapping[str, go.Figure] | None = None,
    title: str | None = None,
    created: datetime.datetime | None = None,
    reviews: Sequence[ReviewNote] | None = None,
    review_tasks: Sequence[Mapping[str, Any]] = (),
    adapters: Sequence[AdapterRecord] = (),
) -> str:
    """Renders the comparison as one HTML page that works offline.

    Args:
        result: the comparison.
        salience: caption → salience over the text (`promptkit.salience.text_heatmap_html`), for chosen runs.
        matrix_figures: caption → token-by-token matrix figure, for chosen runs.
        title: the page heading; defaults to the family's name.
        created: when the comparison ran (default: now).
        reviews: reviewers' notes for a section of their own; None leaves it out.
        review_tasks: summaries of review tasks, blind pairwise or rubric (`promptkit.workflows.task_summary`).
        adapters: the stored adapters of the comparison's adapter columns:
            each gets its training curve and before/after metrics table.

    Returns:
        The HTML text.
    """
    task_charts = [
        rubric_figure(summary) if summary["mode"] == "rubric" else win_rate_figure(summary) for summary in review_tasks
    ]
    adapter_charts = [adapter_loss_figure(record) for record in adapters]
    matrices = dict(matrix_figures or {})
    figures = [summary_figure(result), matrix_figure(result), *task_charts, *adapter_charts, *matrices.values()]
    # Plotly's JavaScript goes in once, with the first chart. Fixed element ids
    # and Plotly's own template (a dashboard process sets Streamlit's as the
    # default) keep the page the same for the same comparison, whoever builds it.
    snippets = [
        Markup(
            go.Figure(figure)
            .update_layout(template="plotly")
            .to_html(full_html=False, include_plotlyjs=index == 0, div_id=f"chart-{index}")
        )
        for index, figure in enumerate(figures)
    ]
    pairs = list(zip(result.versions, result.versions[1:]))
    column_pairs = list(zip(result.columns, result.columns[1:]))
    return _ENVIRONMENT.from_string(_PAGE).render(
        title=title or f"Comparison of {result.family}",
        created=(created or datetime.datetime.now(datetime.UTC)).strftime("%Y-%m-%d %H:%M UTC"),
        result=result,
        summary=_summary_rows(result),
        charts=snippets[:2],
        version_names=[column_name(result, column) for column in result.columns],
        matrix=[
            {"case": case, "cells": [result.cell(column, case.id) for column in result.columns]}
            for case in result.cases
        ],
        template_diffs=[
            {
                "title": f"{version_name(result, old.number)} → {version_name(result, new.number)}",
                "body": render_diff(diff_texts(old.text, new.text, granularity="word")),
            }
            for old, new in pairs
        ],
        completion_titles=[f"{column_name(result, old)} → {column_name(result, new)}" for old, new in column_pairs],
        completion_diffs=[
            {
                "case": case.id,
                "bodies": [
                    render_diff(
                        diff_texts(
                            result.cell(old, case.id).completion, result.cell(new, case.id).completion,
                            granularity="word",
                        )
                    )
                    for old, new in column_pairs
                ],
            }
            for case in result.cases
        ],
        salience=[(caption, Markup(text)) for caption, text in (salience or {}).items()],
        matrices=list(zip(matrices, snippets[len(snippets) - len(matrices) :])),
        review_tasks=[
            {"summary": summary, "chart": chart, "versions": list(next(iter(summary["rubric"].values()), {}))}
            for summary, chart in zip(review_tasks, snippets[2 : 2 + len(task_charts)])
        ],
        adapters=[_adapter_section(record, chart) for record, chart in zip(adapters, snippets[2 + len(task_charts) : 2 + len(task_charts) + len(adapter_charts)])],
        reviews=reviews,
    )


def _adapter_section(record: AdapterRecord, chart: Markup) -> dict[str, Any]:
    """What the report says about one adapter: how it was trained, its test-split metrics, its loss curve."""
    def fmt(value: float | None) -> str:
        return "–" if value is None else f"{value:.2f}"

    metrics = record.metrics
    rows = []
    for when, model in (("before", "base model"), ("after", "with the adapter")):
        values = metrics["test_metrics"][when]
        calibration = calibration_from_json(values.get("calibration"))
        rows.append({
            "model": model, "accuracy": fmt(values["accuracy"]), "f1": fmt(values["macro_f1"]),
            "auc": fmt(values["roc_auc"]), "confusion": str(values["confusion"]),
            "ece": "–" if calibration is None else f"{calibration.expected_calibration_error:.3f}",
        })
    return {
        "name": record.name, "family": record.family, "version": record.version, "base_model": record.base_model,
        "created_by": record.created_by, "created_at": record.created_at.strftime("%Y-%m-%d %H:%M UTC"),
        "rank": record.rank, "epochs": record.epochs, "seed": record.seed,
        **{f"{split}_size": metrics[f"{split}_size"] for split in ("train", "validation", "test")},
        "rows": rows, "chart": chart,
    }


def render_diff(spans: list[DiffSpan]) -> Markup:
    """Diff spans as escaped text with `<ins>` / `<del>` marks."""
    parts = []
    for span in spans:
        text = Markup.escape(span.text)
        if span.op == "insert":
            parts.append(Markup("<ins>{}</ins>").format(text))
        elif span.op == "delete":
            parts.append(Markup("<del>{}</del>").format(text))
        else:
            parts.append(text)
    return Markup("").join(parts)


def _summary_rows(result: MatrixResult) -> list[dict[str, str | int]]:
    def fmt(value: float | None) -> str:
        return "–" if value is None else f"{value:.2f}"

    rows: list[dict[str, str | int]] = []
    for column in result.columns:
        summary = result.summary[column]
        metrics = summary.metrics
        calibration = metrics.calibration if metrics else None
        rows.append(
            {
                "name": column_name(result, column),
                "pass_rate": fmt(summary.pass_rate),
                "expected": fmt(summary.expected_likelihood),
                "agreement": fmt(summary.agreement),
                "accuracy": fmt(metrics.accuracy if metrics else None),
                "f1": fmt(metrics.macro_f1 if metrics else None),
                "auc": fmt(metrics.roc_auc if metrics else None),
                "ece": "–" if calibration is None else f"{calibration.expected_calibration_error:.3f}",
                "errors": summary.errors,
            }
        )
    return rows

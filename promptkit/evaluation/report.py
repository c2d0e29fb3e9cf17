"""One self-contained, offline HTML report of a comparison.

Plotly's JavaScript is inlined once (with the first chart); later charts
reuse it. The page is rendered by Jinja2 with autoescaping on, so every
piece of user text (case values, completions, template text, error
messages) is escaped; only the chart snippets Plotly generates are inserted
raw, and Plotly encodes the data inside them as `\\u003c`-escaped JSON.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping, Sequence
from typing import Any

import jinja2
import plotly.graph_objects as go
from markupsafe import Markup

from promptkit.diff import DiffSpan, diff_texts
from promptkit.evaluation.figures import matrix_figure, summary_figure, version_name
from promptkit.evaluation.results import MatrixResult
from promptkit.review.figures import win_rate_figure

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: .4em .6em; vertical-align: top; text-align: left; }
pre { white-space: pre-wrap; margin: 0; font-size: .85em; max-width: 40em; }
.pass { color: #1a7f37; font-weight: bold; } .fail { color: #cf222e; font-weight: bold; }
.error { color: #9a6700; } ins { background: #d1f7d6; text-decoration: none; }
del { background: #ffd7d5; } .muted { color: #777; font-size: .85em; }
</style></head><body>
<h1>{{ title }}</h1>
<p class="muted">Model {{ result.model }} · family {{ result.family }} · {{ created }}</p>
<h2>Summary</h2>
<table><tr><th>version</th><th>pass rate</th><th>expected-outcome likelihood</th><th>agreement</th>
<th>accuracy</th><th>macro F1</th><th>ROC-AUC</th><th>errors</th></tr>
{% for row in summary %}<tr><td>{{ row.name }}</td><td>{{ row.pass_rate }}</td><td>{{ row.expected }}</td>
<td>{{ row.agreement }}</td><td>{{ row.accuracy }}</td><td>{{ row.f1 }}</td><td>{{ row.auc }}</td><td>{{ row.errors }}</td></tr>
{% endfor %}</table>
{% for chart in charts %}<div>{{ chart }}</div>{% endfor %}
<h2>Matrix</h2>
<table><tr><th>case</th>{% for name in version_names %}<th>{{ name }}</th>{% endfor %}</tr>
{% for row in matrix %}<tr><td><b>{{ row.case.id }}</b>{% for name, value in row.case.values.items() %}
<div class="muted">{{ name }} = {{ value }}</div>{% endfor %}</td>
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
{% if salience %}<h2>Salience</h2>{% for caption, chart in salience %}<h3>{{ caption }}</h3><div>{{ chart }}</div>{% endfor %}{% endif %}
{% if matrices %}<section id="token-matrices"><h2>Token by token</h2>
<p class="muted">Each row is a piece of the answer, each column a piece of the prompt and of the answer before it: how much
that piece drove the model to write that row. The bar beside a row is its probability.</p>
{% for caption, chart in matrices %}<h3>{{ caption }}</h3><div>{{ chart }}</div>{% endfor %}</section>{% endif %}
{% if review_tasks %}<h2>Blind reviews</h2>{% for task in review_tasks %}
<h3>Task #{{ task.summary.task_id }}</h3><div>{{ task.chart }}</div>
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
    salience_figures: Mapping[str, go.Figure] | None = None,
    matrix_figures: Mapping[str, go.Figure] | None = None,
    title: str | None = None,
    created: datetime.datetime | None = None,
    reviews: Sequence[ReviewNote] | None = None,
    review_tasks: Sequence[Mapping[str, Any]] = (),
) -> str:
    """Renders the comparison as one HTML page that works offline.

    Args:
        result: the comparison.
        salience_figures: caption → salience heatmap, for chosen cells.
        matrix_figures: caption → token-by-token matrix figure, for chosen runs.
        title: the page heading; defaults to the family's name.
        created: when the comparison ran (default: now).
        reviews: reviewers' notes for a section of their own; None leaves it out.
        review_tasks: summaries of blind review tasks (`promptkit.workflows.task_summary`).

    Returns:
        The HTML text.
    """
    task_charts = [win_rate_figure(summary) for summary in review_tasks]
    salience, matrices = dict(salience_figures or {}), dict(matrix_figures or {})
    figures = [summary_figure(result), matrix_figure(result), *salience.values(), *matrices.values(), *task_charts]
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
    return _ENVIRONMENT.from_string(_PAGE).render(
        title=title or f"Comparison of {result.family}",
        created=(created or datetime.datetime.now(datetime.UTC)).strftime("%Y-%m-%d %H:%M UTC"),
        result=result,
        summary=_summary_rows(result),
        charts=snippets[:2],
        version_names=[version_name(result, version.number) for version in result.versions],
        matrix=[
            {"case": case, "cells": [result.cell(version.number, case.id) for version in result.versions]}
            for case in result.cases
        ],
        template_diffs=[
            {
                "title": f"{version_name(result, old.number)} → {version_name(result, new.number)}",
                "body": render_diff(diff_texts(old.text, new.text, granularity="word")),
            }
            for old, new in pairs
        ],
        completion_titles=[f"{version_name(result, old.number)} → {version_name(result, new.number)}" for old, new in pairs],
        completion_diffs=[
            {
                "case": case.id,
                "bodies": [
                    render_diff(
                        diff_texts(
                            result.cell(old.number, case.id).completion,
                            result.cell(new.number, case.id).completion,
                            granularity="word",
                        )
                    )
                    for old, new in pairs
                ],
            }
            for case in result.cases
        ],
        salience=list(zip(salience, snippets[2 : 2 + len(salience)])),
        matrices=list(zip(matrices, snippets[2 + len(salience) : 2 + len(salience) + len(matrices)])),
        review_tasks=[
            {"summary": summary, "chart": chart}
            for summary, chart in zip(review_tasks, snippets[len(snippets) - len(task_charts) :])
        ],
        reviews=reviews,
    )


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
    for version in result.versions:
        summary = result.summary[version.number]
        metrics = summary.metrics
        rows.append(
            {
                "name": version_name(result, version.number),
                "pass_rate": fmt(summary.pass_rate),
                "expected": fmt(summary.expected_likelihood),
                "agreement": fmt(summary.agreement),
                "accuracy": fmt(metrics.accuracy if metrics else None),
                "f1": fmt(metrics.macro_f1 if metrics else None),
                "auc": fmt(metrics.roc_auc if metrics else None),
                "errors": summary.errors,
            }
        )
    return rows

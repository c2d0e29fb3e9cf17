"""Small HTML snippets, labels, texts and table rows the dashboard shows: shaded tokens, diffs, reviews, runs.

Every piece of user text (completions, prompts, comments, names) in an
HTML snippet is escaped here, so callers can hand it to an HTML renderer as
is. The `*_markdown` texts are Streamlit Markdown and are not escaped.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from promptkit.graphemes import grapheme_groups
from promptkit.shaded_text import ShadedPiece, shaded_text_html

if TYPE_CHECKING:  # for type hints only: drawing a label needs no store.
    from promptkit.columns import Column
    from promptkit.diff import DiffSpan
    from promptkit.evaluation import Cell, MatrixResult
    from promptkit.generation import GeneratedToken
    from promptkit.models.api import ModelInfo
    from promptkit.salience import SalienceResult
    from promptkit.store.records import ComparisonRecord, ReviewRecord, RunRecord, VersionRecord
    from promptkit.templates import Version

# The granularities the Salience page offers, in menu order, with their menu names.
GRANULARITY_LABELS = {
    "parts": "template parts",
    "paragraphs": "paragraphs",
    "lines": "lines",
    "sentences": "sentences",
    "words": "words",
    "tokens": "tokens",
    "custom": "my own pattern",
}

# Above this share of the loss change, integrated gradients' attributions are
# too far from summing to it to be read as exact shares.
COMPLETENESS_WARNING_SHARE = 0.10

_VERDICT_ICONS = {"good": ":material/thumb_up:", "bad": ":material/thumb_down:", "unsure": ":material/help:"}

# Insertions green, deletions red and struck through.
# Rounded boxes with a gap between them: a deletion followed by an insertion
# ("try" → "Don't") otherwise reads as one run-together word.
_DIFF_STYLES = {
    "insert": ("ins", "background:#c8f7c5;text-decoration:none;border-radius:3px;padding:0 2px;margin:0 1px;"),
    "delete": ("del", "background:#f9c6c6;text-decoration:line-through;border-radius:3px;padding:0 2px;margin:0 1px;"),
}


def token_shading_html(tokens: Sequence[GeneratedToken]) -> str:
    """Renders tokens shaded by probability (darker = less likely); hovering shows p.

    Tokens that split a character (an emoji sequence, a letter and its
    marks, byte pieces) are shown as one piece with their joint probability,
    and the browser lays the text out (joined letters, each line in its own
    direction).

    Args:
        tokens: the tokens in order, e.g. a stored run's.

    Returns:
        One `<div>` of `<span>`s, line breaks shown as `↵`.
    """
    pieces = []
    for group in grapheme_groups([token.text for token in tokens]):
        members = [tokens[index] for index in group]
        probability = math.exp(sum(token.logprob for token in members))
        alpha = 0.65 * (1.0 - probability)
        count = f" ({len(members)} tokens)" if len(members) > 1 else ""
        pieces.append(
            ShadedPiece(
                text="".join(token.text for token in members).replace("\n", "↵\n"),
                background=f"rgba(230, 120, 30, {alpha:.2f})",
                tip=f"p = {probability:.3f}{count}",
            )
        )
    return shaded_text_html(pieces, monospace=True, boxed=False)


def diff_html(spans: Sequence[DiffSpan]) -> str:
    """Renders diff spans: insertions as green `<ins>`, deletions as red, struck `<del>`.

    Args:
        spans: from `promptkit.diff.diff_texts`.

    Returns:
        One `<div>`, line breaks as `<br>`.
    """
    pieces = []
    for span in spans:
        escaped = html.escape(span.text).replace("\n", "<br>")
        if span.op in _DIFF_STYLES:
            tag, style = _DIFF_STYLES[span.op]
            pieces.append(f'<{tag} style="{style}">{escaped}</{tag}>')
        else:
            pieces.append(escaped)
    return (
        '<div style="white-space: pre-wrap; overflow-wrap: anywhere; unicode-bidi: plaintext; line-height: 1.6;">'
        + "".join(pieces)
        + "</div>"
    )


def pre_html(text: str) -> str:
    """Renders plain text in a grey box, whitespace kept.

    Args:
        text: any text.

    Returns:
        One `<div>` holding the escaped text.
    """
    return (
        '<div style="white-space: pre-wrap; overflow-wrap: anywhere; unicode-bidi: plaintext; font-family: monospace; '
        'background: #f6f6f9; padding: 0.6em; border-radius: 6px;">' + html.escape(text) + "</div>"
    )


def version_label(version: Version | VersionRecord) -> str:
    """Returns a version's name for menus, e.g. 'v2 · fewshot-fixed' (or 'v2' without a label).

    Args:
        version: a library or a stored version.

    Returns:
        The label text (plain, not escaped).
    """
    return f"v{version.number}" + (f" · {version.label}" if version.label else "")


def column_label(result: MatrixResult, column: Column) -> str:
    """Returns a comparison column's name: 'v2 · fewshot-fixed', or 'v1 · plain + adapter:dishes'."""
    name = version_label(result.version(column))
    return name if column.adapter is None else f"{name} + adapter:{column.adapter}"


def run_label(run: RunRecord) -> str:
    """Returns a run's name for menus, e.g. '#12 · menu-analysis v2 · quiche-cant-eat-eggs · 2025-01-31 14:02'.

    Args:
        run: a stored run.

    Returns:
        The label text (plain, not escaped); runs without a case say 'own values'.
    """
    when = run.created_at.strftime("%Y-%m-%d %H:%M") if run.created_at else ""
    case = run.case_id or "own values"
    return f"#{run.id} · {run.family} v{run.version} · {case} · {when}"


def compare_summary_rows(result: MatrixResult, *, line: str | None) -> list[dict[str, str]]:
    """Builds the Compare summary table: one row per case, one column per comparison column.

    Args:
        result: the comparison.
        line: the output line the cases check (e.g. 'Recommendation:'): a
            cell shows what follows it; None shows the completion's first line.

    Returns:
        One dict per case, keyed 'Test case' then each column's
        `column_label`. A value is '✓ ' (passed) or '✗ ' (failed; nothing when
        unchecked) followed by the text shown, or by '⚠ ' and the start of the
        error for a failed cell. Plain text, not escaped.
    """
    # Imported here: the evaluation package pulls in the store, which labels need not.
    from promptkit.evaluation.checks import find_line, output_text

    rows = []
    for case in result.cases:
        row = {"Test case": case.id}
        for column in result.columns:
            cell = result.cell(column, case.id)
            if cell.error:
                shown = "⚠ " + cell.error[:80]
            else:
                found = find_line(output_text(cell.prompt or "", cell.completion), line) if line else None
                first_line = cell.completion.strip().splitlines()[0] if cell.completion.strip() else "(empty)"
                shown = found if found is not None else first_line
            mark = {True: "✓ ", False: "✗ ", None: ""}[cell.passed]
            row[column_label(result, column)] = mark + shown
        rows.append(row)
    return rows


def run_table_rows(runs: Sequence[RunRecord], reviews: Sequence[ReviewRecord]) -> list[dict[str, str | int]]:
    """Builds the History table: one row per run, with the verdicts given on it.

    Args:
        runs: the runs, in the order to show.
        reviews: reviews; those about one of `runs` fill its 'Verdicts',
            oldest first as given.

    Returns:
        One dict per run, keyed Run, When, Family, Version, Case, Model,
        Completion (one line, at most 120 characters, or '⚠ ' and the error)
        and Verdicts (comma-separated). Plain text, not escaped.
    """
    verdicts_by_run: dict[int, list[str]] = {}
    for review in reviews:
        if review.run_id is not None:
            verdicts_by_run.setdefault(review.run_id, []).append(review.verdict)
    return [
        {
            "Run": run.id,
            "When": run.created_at.strftime("%Y-%m-%d %H:%M"),
            "Family": run.family,
            "Version": run.version,
            "Case": run.case_id or "(own values)",
            "Model": run.model,
            "Completion": (run.error and "⚠ " + run.error) or run.completion.strip().replace("\n", " ⏎ ")[:120],
            "Verdicts": ", ".join(verdicts_by_run.get(run.id, [])),
        }
        for run in runs
    ]


class CompletenessNote(NamedTuple):
    """How far integrated gradients' attributions are from summing to the loss change."""

    text: str
    large: bool  # the error is above COMPLETENESS_WARNING_SHARE of the loss change


def completeness_note(result: SalienceResult) -> CompletenessNote | None:
    """Says in one sentence how complete an integrated-gradients result is.

    Integrated gradients' attributions should sum to the loss change from
    the baseline to the prompt; the completeness error is how far they miss.

    Args:
        result: a salience result; only one whose `details` hold
            `baseline_loss` and `completeness_error` (integrated gradients)
            gets a note.

    Returns:
        The sentence (plain text), e.g. 'Integrated gradients: attributions
        sum to 344.4 of the loss change 415.0 (completeness error 17%), so read small
        differences between segments with care.', and whether the error is large; None for other
        results (other methods, scores read back from the store).
    """
    if "baseline_loss" not in result.details or "completeness_error" not in result.details:
        return None
    change = result.loss - result.details["baseline_loss"]
    error = result.details["completeness_error"]
    # <bos> is not among the tokens, but the baseline keeps it, so its attribution is 0.
    total = sum(token.score for token in result.tokens)
    if change == 0:  # no share to give: the absolute error is all there is
        share, error_text = math.inf if error else 0.0, f"{error:.3g}"
    else:
        share = error / abs(change)
        error_text = f"{share:.0%}"
    text = (
        f"Integrated gradients: attributions sum to {total:.1f} of the loss change {change:.1f} "
        f"(completeness error {error_text}), so read small differences between segments with care."
    )
    return CompletenessNote(text, share > COMPLETENESS_WARNING_SHARE)


def model_summary_markdown(info: ModelInfo) -> str:
    """Describes a loaded model for the sidebar: name, device, precision, load time, note.

    Args:
        info: the model's info.

    Returns:
        Streamlit Markdown, one item a line (the note in italics).
    """
    return (
        f"**{info.name}**  \n"
        f"Device: {info.device} · {info.dtype}  \n"
        f"Loaded in {info.load_seconds:.1f} s"
        + (f"  \n_{info.note}_" if info.note else "")
    )


def review_markdown(review: ReviewRecord) -> str:
    """Heads one review in a review panel: verdict icon, verdict, reviewer, time.

    Args:
        review: a stored review.

    Returns:
        Streamlit Markdown (a material icon for known verdicts); the comment is not included.
    """
    return (
        f"{_VERDICT_ICONS.get(review.verdict, '')} **{review.verdict}** by {markdown_escape(review.reviewer)} · "
        f"{review.created_at:%Y-%m-%d %H:%M}"
    )


def markdown_escape(text: str) -> str:
    """`text` with every Markdown control character backslash-escaped, so it renders as typed."""
    return re.sub(r"([\\`*_{}\[\]<>()#+\-.!|~:$])", r"\\\1", text)


def version_summary_rows(result: MatrixResult) -> list[dict[str, str | int]]:
    """Builds the per-column outcome table: pass rate, likelihood, agreement, classifier metrics, errors.

    Args:
        result: the comparison.

    Returns:
        One dict per column, in the compared order; a measure not computed
        (no labels, no samples) shows as '–'.
    """

    def shown(value: float | None) -> str:
        return "–" if value is None else f"{value:.2f}"

    rows: list[dict[str, str | int]] = []
    for column in result.columns:
        summary = result.summary[column]
        metrics = summary.metrics
        calibration = metrics.calibration if metrics else None
        rows.append(
            {
                "Version": column_label(result, column),
                "Pass rate": shown(summary.pass_rate),
                "Expected-outcome likelihood": shown(summary.expected_likelihood),
                "Agreement (stability)": shown(summary.agreement),
                "Accuracy": shown(metrics.accuracy if metrics else None),
                "Macro F1": shown(metrics.macro_f1 if metrics else None),
                "ROC-AUC": shown(metrics.roc_auc if metrics else None),
                "Calibration error (ECE)": "–" if calibration is None else f"{calibration.expected_calibration_error:.3f}",
                "Errors": summary.errors,
            }
        )
    return rows


def cell_likelihoods_caption(cell: Cell) -> str:
    """`P(You have to try it) 0.99 · P(Avoid) 0.01 (expected: Avoid)`: the candidates, likeliest first."""
    ranked = sorted(cell.outcome_likelihoods.items(), key=lambda item: -item[1])
    text = " · ".join(f"P({label}) {value:.2f}" for label, value in ranked)
    return f"{text} (expected: {' or '.join(cell.acceptable)})" if cell.acceptable else text


def comparison_label(comparison: ComparisonRecord) -> str:
    """`#3 · v1, v2 over 2 cases · tiny:gemma3 · 2026-12-04 18:30 by ada`: a stored comparison in a picker."""
    versions = ", ".join(f"v{number}" for number in comparison.versions)
    cases = f"{len(comparison.cases)} case{'s' if len(comparison.cases) != 1 else ''}"
    model = comparison.model or "model not recorded"
    when = comparison.created_at.strftime("%Y-%m-%d %H:%M")
    return f"#{comparison.id} · {versions} over {cases} · {model} · {when} by {comparison.created_by}"

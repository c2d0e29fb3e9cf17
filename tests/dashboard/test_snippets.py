"""HTML snippets, labels, texts and table rows: escaping, probability shading, diff marks, reviews, runs, salience notes."""

from __future__ import annotations

import dataclasses
import math
import re
from datetime import UTC, datetime

from dashboard.snippets import (
    cell_likelihoods_caption,
    compare_summary_rows,
    comparison_label,
    completeness_note,
    diff_html,
    model_summary_markdown,
    pre_html,
    review_markdown,
    run_label,
    run_table_rows,
    token_shading_html,
    version_label,
    version_summary_rows,
)
from promptkit.diff import diff_texts
from promptkit.evaluation import Cell, CheckResult, ClassifierMetrics, MatrixResult, VersionSummary
from promptkit.generation import GeneratedToken
from promptkit.models.api import ModelInfo
from promptkit.salience import SalienceResult, TokenScore
from promptkit.store.records import ComparisonRecord, ReviewRecord, RunRecord
from promptkit.templates import TestCase, Version

WHEN = datetime(2025, 1, 31, 14, 2, tzinfo=UTC)


def _run(**overrides) -> RunRecord:
    fields = dict(
        id=12, family="menu-analysis", version=2, case_id="quiche", variables={}, prompt="p", model="m",
        generation={}, seed=None, completion="c", tokens=(), stop_reason=None, timings={}, error=None, created_at=WHEN,
    )
    return RunRecord(**{**fields, **overrides})


def _review(**overrides) -> ReviewRecord:
    fields = dict(id=1, run_id=12, subject=None, verdict="bad", comment="ok", reviewer="Ann", created_at=WHEN)
    return ReviewRecord(**{**fields, **overrides})


def test_token_shading_is_darker_for_less_likely_tokens_and_escapes() -> None:
    tokens = [
        GeneratedToken(id=1, text="<b>", start=0, end=3, logprob=0.0),
        GeneratedToken(id=2, text=" no\n", start=3, end=7, logprob=math.log(0.5)),
    ]
    html = token_shading_html(tokens)
    assert "<b>" not in html and "&lt;b&gt;" in html
    assert 'title="p = 1.000" style="background: rgba(230, 120, 30, 0.00);' in html
    assert 'title="p = 0.500" style="background: rgba(230, 120, 30, 0.33);' in html
    assert " no↵\n</span>" in html  # the line break shown, and kept for the layout
    assert "unicode-bidi: plaintext" in html  # each line in its own direction


def test_token_shading_keeps_characters_split_over_tokens_whole() -> None:
    # Byte-level tokens: an empty piece before the one completing "ش", and an emoji sequence over three tokens.
    texts, probabilities = ["", "ش", "👩", "\u200d", "🍳", " ok"], [0.5, 0.8, 0.9, 1.0, 0.5, 1.0]
    tokens = [
        GeneratedToken(id=index, text=text, start=0, end=0, logprob=math.log(p))
        for index, (text, p) in enumerate(zip(texts, probabilities))
    ]
    html = token_shading_html(tokens)
    shown = re.findall(r'title="([^"]*)"[^>]*>([^<]*)</span>', html)
    assert shown == [("p = 0.400 (2 tokens)", "ش"), ("p = 0.450 (3 tokens)", "👩\u200d🍳"), ("p = 1.000", " ok")]


def test_diff_html_marks_insertions_and_deletions_escaped() -> None:
    html = diff_html(diff_texts("keep <old>\n", "keep <new>\n"))
    assert re.search(r'<del style="background:#f9c6c6;text-decoration:line-through;[^"]*">&lt;old&gt;</del>', html)
    assert re.search(r'<ins style="background:#c8f7c5;text-decoration:none;[^"]*">&lt;new&gt;</ins>', html)
    assert "margin:0 1px" in html  # a deletion and the insertion after it do not touch
    assert html.startswith("<div") and "keep " in html and "<br>" in html
    assert "<old>" not in html and "<new>" not in html


def test_diff_html_of_equal_texts_has_no_marks() -> None:
    html = diff_html(diff_texts("same", "same"))
    assert "<ins" not in html and "<del" not in html and ">same</div>" in html


def test_pre_html_escapes_and_keeps_whitespace() -> None:
    html = pre_html("<script>alert(1)</script>\n  x")
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;\n  x" in html
    assert "white-space: pre-wrap" in html


def test_labels() -> None:
    assert version_label(Version(number=2, text="", label="fewshot-fixed")) == "v2 · fewshot-fixed"
    assert version_label(Version(number=3, text="")) == "v3"
    assert run_label(_run()) == "#12 · menu-analysis v2 · quiche · 2025-01-31 14:02"
    assert run_label(_run(case_id=None)) == "#12 · menu-analysis v2 · own values · 2025-01-31 14:02"


def _comparison(cells: list[Cell]) -> MatrixResult:
    versions = (Version(number=1, text="", label="base"), Version(number=2, text=""))
    cases = (TestCase("quiche", {"dish": "Quiche"}), TestCase("salad", {"dish": "Salad"}))
    return MatrixResult(model="m", family="menu", versions=versions, cases=cases, cells=tuple(cells), summary={})


def test_compare_summary_rows_show_the_checked_line_with_pass_marks() -> None:
    passed, failed = (CheckResult(name="label", passed=True),), (CheckResult(name="label", passed=False),)
    result = _comparison(
        [
            Cell(1, "quiche", "Dish: Quiche\nRecommendation:", " Avoid\nWhy: eggs", checks=passed),
            Cell(1, "salad", "Dish: Salad\nRecommendation:", " Likely good", checks=failed),
            Cell(2, "quiche", "p", error="prompt too long " + "x" * 100),
            Cell(2, "salad", "p", "  \n"),
        ]
    )
    rows = compare_summary_rows(result, line="Recommendation:")
    assert rows == [
        {"Test case": "quiche", "v1 · base": "✓ Avoid", "v2": "✗ ⚠ prompt too long " + "x" * 64},
        {"Test case": "salad", "v1 · base": "✗ Likely good", "v2": "(empty)"},
    ]


def test_compare_summary_rows_without_a_line_show_the_first_line() -> None:
    result = _comparison(
        [
            Cell(1, "quiche", "p", "\n first\nsecond"),
            Cell(1, "salad", "p", "Recommendation: x"),
            Cell(2, "quiche", "p", "only"),
            Cell(2, "salad", "p", ""),
        ]
    )
    rows = compare_summary_rows(result, line=None)
    assert [list(row.values()) for row in rows] == [["quiche", "first", "only"], ["salad", "Recommendation: x", "(empty)"]]


def test_compare_summary_rows_fall_back_to_the_first_line_when_the_line_is_missing() -> None:
    result = _comparison([Cell(v, c, "p", "no such line\nmore") for v in (1, 2) for c in ("quiche", "salad")])
    assert compare_summary_rows(result, line="Recommendation:")[0]["v2"] == "no such line"


def test_run_table_rows_one_line_per_run_with_its_verdicts() -> None:
    runs = [
        _run(id=12, completion=" Avoid\nWhy: eggs\n"),
        _run(id=13, case_id=None, error="prompt too long", completion=""),
        _run(id=14, completion="x" * 200),
    ]
    reviews = [_review(run_id=12, verdict="bad"), _review(run_id=None, subject="s"), _review(run_id=12, verdict="good")]
    rows = run_table_rows(runs, reviews)
    assert rows[0] == {
        "Run": 12,
        "When": "2025-01-31 14:02",
        "Family": "menu-analysis",
        "Version": 2,
        "Case": "quiche",
        "Model": "m",
        "Completion": "Avoid ⏎ Why: eggs",
        "Verdicts": "bad, good",
    }
    assert rows[1]["Case"] == "(own values)" and rows[1]["Completion"] == "⚠ prompt too long"
    assert rows[1]["Verdicts"] == "" and rows[2]["Completion"] == "x" * 120
    assert run_table_rows([], reviews) == []


def _salience(*, scores: list[float], loss: float, details: dict[str, float], method: str = "integrated_gradients") -> SalienceResult:
    tokens = tuple(TokenScore(f"t{i}", i, i + 1, score) for i, score in enumerate(scores))
    return SalienceResult(
        model="m", prompt="p" * (len(scores) - 1), target="t", method=method, signed=True, params={},
        tokens=tokens, target_tokens=(len(scores) - 1, len(scores)), loss=loss, details=details,
    )


def test_completeness_note_gives_the_sums_and_the_error_share() -> None:
    # Attributions 344.4 of a loss change 415.0: the error is 70.6, 17% of the change.
    result = _salience(scores=[300.0, 44.4], loss=420.0, details={"baseline_loss": 5.0, "completeness_error": 70.6})
    note = completeness_note(result)
    assert note is not None
    assert note.text == (
        "Integrated gradients: attributions sum to 344.4 of the loss change 415.0 "
        "(completeness error 17%), so read small differences between segments with care."
    )
    assert note.large


def test_completeness_note_small_error_is_not_large() -> None:
    result = _salience(scores=[400.0, 10.0], loss=420.0, details={"baseline_loss": 5.0, "completeness_error": 5.0})
    note = completeness_note(result)
    assert note is not None and "completeness error 1%" in note.text and not note.large


def test_completeness_note_without_a_loss_change_reports_the_absolute_error() -> None:
    result = _salience(scores=[0.5, 0.0], loss=3.0, details={"baseline_loss": 3.0, "completeness_error": 0.5})
    note = completeness_note(result)
    assert note is not None and "completeness error 0.5)" in note.text and note.large


def test_completeness_note_is_none_without_integrated_gradients_details() -> None:
    assert completeness_note(_salience(scores=[1.0, 2.0], loss=1.0, details={}, method="grad_l2")) is None
    stored = SalienceResult.from_token_scores(
        model="m", prompt="ab", target="c", method="integrated_gradients",
        tokens=[{"text": "ab", "start": 0, "end": 2, "score": 1.0}, {"text": "c", "start": 2, "end": 3, "score": 0.5}],
        target_start=0, target_end=1,
    )
    assert completeness_note(stored) is None  # scores read back from the store keep no details


def test_model_summary_markdown_lists_device_precision_and_note() -> None:
    info = ModelInfo(name="tiny", family="gemma3", device="CPU", dtype="float32", context_length=64, load_seconds=1.25)
    assert model_summary_markdown(info) == "**tiny**  \nDevice: CPU · float32  \nLoaded in 1.2 s"
    assert model_summary_markdown(dataclasses.replace(info, note="fallback")).endswith("  \n_fallback_")


def test_review_markdown_has_the_verdict_icon_reviewer_and_time() -> None:
    assert review_markdown(_review()) == ":material/thumb_down: **bad** by Ann · 2025-01-31 14:02"
    assert review_markdown(_review(verdict="odd")).startswith(" **odd**")


def test_review_markdown_shows_a_reviewers_name_as_typed() -> None:
    line = review_markdown(_review(reviewer="**Bo** :red[x] `y`"))
    assert line.startswith(":material/thumb_down: **bad** by ")
    assert r"\*\*Bo\*\* \:red\[x\] \`y\`" in line


def test_likelihoods_read_likeliest_first_with_what_was_expected() -> None:
    cell = Cell(version=1, case="q", prompt="p", outcome_likelihoods={"Avoid": 0.25, "Try it": 0.75}, acceptable=("Avoid",))
    assert cell_likelihoods_caption(cell) == "P(Try it) 0.75 · P(Avoid) 0.25 (expected: Avoid)"
    unlabelled = dataclasses.replace(cell, acceptable=())
    assert cell_likelihoods_caption(unlabelled) == "P(Try it) 0.75 · P(Avoid) 0.25"


def test_version_summary_rows_show_dashes_for_what_was_not_measured() -> None:
    metrics = ClassifierMetrics(labels=("Avoid", "Try it"), accuracy=0.5, macro_f1=1 / 3, roc_auc=None, confusion=[[1, 0], [1, 0]])
    result = MatrixResult(
        model="m", family="f", versions=(Version(number=1, text="", label="plain"), Version(number=2, text="")),
        cases=(), cells=(),
        summary={
            1: VersionSummary(pass_rate=0.5, expected_likelihood=0.625, agreement=None, metrics=metrics, errors=1),
            2: VersionSummary(pass_rate=None, expected_likelihood=None, agreement=1.0, metrics=None, errors=0),
        },
    )
    first, second = version_summary_rows(result)
    assert first == {
        "Version": "v1 · plain", "Pass rate": "0.50", "Expected-outcome likelihood": "0.62", "Agreement (stability)": "–",
        "Accuracy": "0.50", "Macro F1": "0.33", "ROC-AUC": "–", "Calibration error (ECE)": "–", "Errors": 1,
    }
    assert (second["Pass rate"], second["Agreement (stability)"], second["Accuracy"]) == ("–", "1.00", "–")


def test_comparison_label_names_versions_cases_model_time_and_person() -> None:
    comparison = ComparisonRecord(
        id=3, family="f", versions=(1, 2), cases=(TestCase(id="q", values={}),), model="", settings={},
        created_by="ada", created_at=WHEN, finished_at=None,
    )
    assert comparison_label(comparison) == "#3 · v1, v2 over 1 case · model not recorded · 2025-01-31 14:02 by ada"

"""HTML snippets, labels and table rows: escaping, probability shading, diff marks, reviews, runs."""

from __future__ import annotations

import math
from datetime import datetime, timezone

from promptkit.diff import diff_texts
from promptkit.evaluation import Cell, CheckResult, MatrixResult
from promptkit.generation import GeneratedToken
from promptkit.presentation import (
    compare_summary_rows,
    diff_html,
    pre_html,
    reviews_html,
    run_label,
    run_table_rows,
    token_shading_html,
    version_label,
)
from promptkit.store.records import ReviewRecord, RunRecord, StoredToken
from promptkit.templates import TestCase, Version

WHEN = datetime(2025, 1, 31, 14, 2, tzinfo=timezone.utc)


def _run(**overrides) -> RunRecord:
    fields = dict(
        id=12, family="menu-analysis", version=2, case_id="quiche", variables={}, prompt="p", model="m",
        generation={}, seed=None, completion="c", tokens=[], stop_reason=None, timings={}, error=None, created_at=WHEN,
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
    assert " no↵<br>" in html


def test_token_shading_counts_a_token_without_logprob_as_certain() -> None:
    html = token_shading_html([StoredToken(text="x", start=0, end=1, logprob=None)])
    assert 'title="p = 1.000"' in html and "rgba(230, 120, 30, 0.00)" in html


def test_diff_html_marks_insertions_and_deletions_escaped() -> None:
    html = diff_html(diff_texts("keep <old>\n", "keep <new>\n"))
    assert '<del style="background:#f9c6c6;text-decoration:line-through;">&lt;old&gt;</del>' in html
    assert '<ins style="background:#c8f7c5;text-decoration:none;">&lt;new&gt;</ins>' in html
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


def test_reviews_html_escapes_every_field_and_names_the_run() -> None:
    review = _review(comment="<img src=x onerror=alert(1)>\nsecond line", reviewer="<i>Ann</i>")
    html = reviews_html([review], {12: _run(family="<fam>")})
    assert html.startswith('<section id="reviews">') and html.endswith("</section>")
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;<br>second line" in html
    assert "&lt;i&gt;Ann&lt;/i&gt;" in html and "#12 · &lt;fam&gt; v2" in html
    assert "<td><b>bad</b></td>" in html


def test_reviews_html_subject_falls_back_and_empty_says_so() -> None:
    assert "run #99" in reviews_html([_review(run_id=99)], {})
    assert "a:v1-vs-v2" in reviews_html([_review(run_id=None, subject="a:v1-vs-v2")], {})
    assert "No reviews yet." in reviews_html([], {})


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

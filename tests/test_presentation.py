"""HTML snippets and labels: escaping, probability shading, diff marks, reviews."""

from __future__ import annotations

import math
from datetime import datetime, timezone

from promptkit.diff import diff_texts
from promptkit.generation import GeneratedToken
from promptkit.presentation import diff_html, pre_html, reviews_html, run_label, token_shading_html, version_label
from promptkit.store.records import ReviewRecord, RunRecord, StoredToken
from promptkit.templates import Version

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

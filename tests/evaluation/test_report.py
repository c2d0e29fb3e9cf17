"""The offline HTML report: escaping, self-contained Plotly, diffs."""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np

from promptkit.evaluation.matrix import run_matrix
from promptkit.evaluation.report import render_report
from promptkit.salience import SegmentScores, segment_text, text_heatmap_html
from tests.evaluation.test_matrix import FakeModel, FakeScorer


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.scripts: list[str] = []
        self.script_srcs: list[str] = []
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.stack.append(tag)
        if tag == "script" and dict(attrs).get("src"):
            self.script_srcs.append(dict(attrs)["src"])

    def handle_endtag(self, tag):
        while self.stack and self.stack.pop() != tag:
            pass

    def handle_data(self, data):
        if self.stack and self.stack[-1] == "script":
            self.scripts.append(data)
        else:
            self.text.append(data)


def _parsed(mini_family, **options) -> tuple[str, _Collector]:
    result = run_matrix(FakeModel(), mini_family, versions=mini_family.versions, cases=mini_family.cases, scorer=FakeScorer())
    html = render_report(result, **options)
    collector = _Collector()
    collector.feed(html)
    return html, collector


def test_user_text_is_escaped(mini_family) -> None:
    html, page = _parsed(mini_family)
    # The case value shows as text, and no script element carries it.
    assert any("<script>alert(1)</script>" in text for text in page.text)
    assert not any("alert(1)" in script for script in page.scripts)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_plotly_is_inlined_once_and_nothing_is_fetched(mini_family) -> None:
    _, page = _parsed(mini_family)
    assert page.script_srcs == []
    big = [script for script in page.scripts if len(script) > 1_000_000]
    assert len(big) == 1  # The library itself, once.
    assert sum("Plotly.newPlot" in script for script in page.scripts) == 2  # Summary, matrix.


def test_salience_reads_as_text_in_every_language_and_is_escaped(mini_family) -> None:
    text = "کتاب‌ها را خواندم <script>alert(2)</script>\nשלום 👩\u200d🍳 이 요리 这道菜"
    segments = segment_text(text, "words")
    scores = SegmentScores(tuple(segments), np.linspace(0.1, 1.0, len(segments)), np.zeros(len(segments), bool), False, np.ones(len(segments), int))
    html, page = _parsed(mini_family, salience={"Salience of v2 × <soup>": text_heatmap_html(scores)})
    assert "Salience of v2 × <soup>" in "".join(page.text)
    assert "".join(page.text).count(text.replace("\n", "")[:10]) == 1
    assert not any("alert(2)" in script for script in page.scripts)  # shown as text, not run
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert "unicode-bidi: plaintext" in html  # each line in its own direction


def test_template_and_completion_diffs_are_marked(mini_family) -> None:
    html, page = _parsed(mini_family)
    assert "<ins>Analyze a menu item.\n</ins>" in html
    assert "v1 first → v2 second" in "".join(page.text)
    assert "Summary" in page.text

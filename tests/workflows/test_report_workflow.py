"""One report builder: `compare --html` and `report --comparison` give the same page; the CLI contracts."""

from __future__ import annotations

import json

from promptkit.cli import main


def _compare(templates_dir, *extra):
    return main(["compare", "--family", "mini", "--versions", "1,second", "--model", "tiny:gemma3",
                 "--templates-dir", str(templates_dir), *extra])


def _without_reviews(page: str) -> str:
    return page[: page.index('<section id="reviews">')] + page[page.index("</section>") :]


def test_compare_html_equals_the_report_of_the_stored_comparison(mini_store, templates_dir, tmp_path, capsys):
    out, html = tmp_path / "out.json", tmp_path / "compare.html"
    assert _compare(templates_dir, "--json", str(out), "--html", str(html)) == 0
    data = json.loads(out.read_text())
    comparison_id = data["comparison_id"]
    assert isinstance(comparison_id, int) and set(data) >= {"model", "versions", "cells", "summary"}
    mini_store.add_review(verdict="good", reviewer="grace", comment="v2 <fixes> it", subject="cmp",
                          comparison_id=comparison_id)
    again = tmp_path / "again.html"
    assert main(["report", "--comparison", str(comparison_id), "--html", str(again),
                 "--templates-dir", str(templates_dir)]) == 0
    page = again.read_text()
    assert "v2 &lt;fixes&gt; it" in page and "grace" in page  # the review given since, escaped
    assert _without_reviews(page) == _without_reviews(html.read_text())  # and otherwise the page compare wrote
    assert "P(Avoid)" in page


def test_report_of_an_unknown_comparison_is_a_clear_error(mini_store, templates_dir, tmp_path, capsys):
    status = main(["report", "--comparison", "77", "--html", str(tmp_path / "r.html"), "--templates-dir", str(templates_dir)])
    assert status == 2 and not (tmp_path / "r.html").exists()
    assert "no comparison 77" in capsys.readouterr().err


def test_comparisons_lists_the_contract_keys_newest_first(mini_store, templates_dir, capsys, monkeypatch):
    monkeypatch.setenv("PROMPTKIT_USER", "ada")
    assert _compare(templates_dir) == 0
    assert _compare(templates_dir, "--samples", "1") == 0
    capsys.readouterr()
    assert main(["comparisons", "--json", "--templates-dir", str(templates_dir)]) == 0
    listed = json.loads(capsys.readouterr().out)["comparisons"]
    assert [c["id"] for c in listed] == sorted((c["id"] for c in listed), reverse=True) and len(listed) == 2
    for comparison in listed:
        assert set(comparison) >= {"id", "family", "versions", "cases", "model", "created_at", "created_by"}
        assert comparison["family"] == "mini" and comparison["versions"] == [1, 2]
        assert comparison["cases"] == ["soup", "bread"] and comparison["model"] == "tiny:gemma3"
        assert comparison["created_by"] == "ada"


def test_the_report_gathers_the_comparisons_and_its_runs_reviews_escaped(mini_store, tiny_gemma3):
    from promptkit.workflows import comparison_report, run_comparison
    from promptkit.workflows.compare import ComparisonRequest

    first = run_comparison(mini_store, tiny_gemma3, ComparisonRequest(family="mini", versions=[1, 2], max_new_tokens=2),
                           actor="ada")
    other = run_comparison(mini_store, tiny_gemma3, ComparisonRequest(family="mini", versions=[1, 2], max_new_tokens=2),
                           actor="ada")
    mini_store.add_review(verdict="bad", reviewer="<i>Ann</i>", comment="<img src=x onerror=alert(1)>", subject="s",
                          comparison_id=first.record.id)
    mini_store.add_review(verdict="good", reviewer="Bo", comment="this run is fine", run_id=first.run_id(2, "bread"))
    mini_store.add_review(verdict="unsure", reviewer="Cy", comment="about the other one", subject="s",
                          comparison_id=other.record.id)
    page = comparison_report(mini_store, first.record.id, actor="ada")
    reviews = page[page.index('<section id="reviews">'):]
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in reviews
    assert "&lt;i&gt;Ann&lt;/i&gt;" in reviews and "this run is fine" in reviews and "about the other one" not in reviews
    assert f"run #{first.run_id(2, 'bread')} · v2 · bread" in reviews
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # a case value


def test_the_report_can_hold_the_token_matrices_stored_for_its_runs(mini_store, templates_dir, tiny_gemma3, tmp_path):
    from promptkit.salience import SalienceEngine
    from promptkit.workflows.explain import explain_run_tokens, matrix_params

    out = tmp_path / "out.json"
    assert _compare(templates_dir, "--json", str(out)) == 0
    comparison_id = json.loads(out.read_text())["comparison_id"]
    runs = [run for run in mini_store.list_runs(family="mini") if run.completion.strip()]
    engine = SalienceEngine(tiny_gemma3)
    explain_run_tokens(mini_store, engine, runs[0], method="grad_l2", params={}, actor="ada")
    explain_run_tokens(mini_store, engine, runs[-1], method="attention", params=matrix_params("attention", heads="max"),
                       actor="ada")
    calls = engine.gradient_calls
    plain, with_matrices = tmp_path / "plain.html", tmp_path / "matrices.html"
    for path, extra in ((plain, []), (with_matrices, ["--with-matrices"])):
        assert main(["report", "--comparison", str(comparison_id), "--html", str(path),
                     "--templates-dir", str(templates_dir), *extra]) == 0
    assert engine.gradient_calls == calls  # read from the store
    page = with_matrices.read_text()
    section = page[page.index('<section id="token-matrices">'):page.index("</section>", page.index('id="token-matrices"'))]
    assert section.count('<div id="chart-') == 2
    assert f"Run #{runs[0].id} · v{runs[0].version} · {runs[0].case_id} · grad_l2 · " in section
    assert "attention (heads max, layers all)" in section
    assert 'id="token-matrices"' not in plain.read_text()
    assert page.count('<div id="chart-') == plain.read_text().count('<div id="chart-') + 2

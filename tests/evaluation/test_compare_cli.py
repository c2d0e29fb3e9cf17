"""`python -m promptkit compare`: the JSON contract, the gate, case files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptkit.cli import main


@pytest.fixture(autouse=True)
def _private_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMPTKIT_DB_URL", raising=False)
    monkeypatch.setenv("PROMPTKIT_DB", str(tmp_path / "store.db"))


def _compare(templates_dir: Path, *extra: str) -> int:
    return main(["compare", "--family", "mini", "--versions", "1,second", "--model", "tiny:gemma3",
                 "--templates-dir", str(templates_dir), *extra])


def test_json_html_and_progress(templates_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, html = tmp_path / "out.json", tmp_path / "out.html"
    status = _compare(templates_dir, "--json", str(out), "--html", str(html), "--samples", "2")
    captured = capsys.readouterr()
    assert status == 0
    assert "compare: 16/16 steps" in captured.err
    assert "v2 second: pass rate" in captured.out
    data = json.loads(out.read_text())
    assert data["model"] == "tiny:gemma3"
    assert data["versions"] == [1, 2]
    assert sorted(data["cases"]) == ["bread", "soup"]
    assert len(data["cells"]) == 4
    for cell in data["cells"]:
        assert set(cell) >= {"version", "case", "completion", "checks", "outcome_likelihoods", "error"}
        assert all(set(check) >= {"name", "passed", "description"} for check in cell["checks"])
        assert set(cell["outcome_likelihoods"]) == {"Avoid", "Likely good"}
    for summary in data["summary"].values():
        assert set(summary) >= {"pass_rate", "expected_likelihood", "agreement"}
        assert summary["agreement"] is not None
    assert html.read_text().startswith("<!DOCTYPE html>")


def test_min_pass_rate_gates_the_exit_status(templates_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Random weights never write "Avoid"/"Likely good", so nothing passes.
    assert _compare(templates_dir, "--min-pass-rate", "0.5") == 1
    assert "BELOW --min-pass-rate 0.5" in capsys.readouterr().out
    assert _compare(templates_dir, "--min-pass-rate", "0") == 0


def test_own_case_file(templates_dir: Path, tmp_path: Path) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text("cases:\n  - id: stew\n    values: {dish: Beef stew}\n    expect: {labels: [Avoid]}\n")
    out = tmp_path / "out.json"
    assert _compare(templates_dir, "--cases", str(cases), "--json", str(out)) == 0
    assert json.loads(out.read_text())["cases"] == ["stew"]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("cases:\n  - id: a\n    values: {dish: x}\n    expect: {labels: [Maybe]}\n", 4, "not one of the candidate labels"),
        ("cases:\n  - id: a\n    values: {other: x}\n", 3, "no value for dish"),
        ("cases:\n  - id: a\n   values: [\n", 3, "invalid YAML"),
        ("family: other\ncases: []\n", 1, "for family 'other'"),
    ],
)
def test_malformed_case_file_names_file_and_line(
    templates_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, line: int, message: str
) -> None:
    cases = tmp_path / "bad.yaml"
    cases.write_text(text)
    assert _compare(templates_dir, "--cases", str(cases)) == 2
    err = capsys.readouterr().err
    assert f"{cases}:{line}:" in err and message in err


def test_unknown_version_is_a_clear_error(templates_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--family", "mini", "--versions", "1,7", "--templates-dir", str(templates_dir)]) == 2
    assert "no version '7'" in capsys.readouterr().err

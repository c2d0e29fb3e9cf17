"""`python -m promptkit compare`: the JSON contract, the gate, case files."""

from __future__ import annotations

import json
import sys
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


def test_ray_without_ray_installed_says_how_to_install_it(
    templates_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if it were not installed
    assert _compare(templates_dir, "--engine", "ray") == 2
    err = capsys.readouterr().err
    assert "needs Ray, which is not installed" in err and "pip install ray==" in err and "--engine local" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--ray-address", "auto"], "--ray-address and --workers go with --engine ray"),
        (["--workers", "2"], "--ray-address and --workers go with --engine ray"),
        (["--resume", "1"], "--resume runs the comparison as it was recorded; leave out --family, --versions"),
    ],
)
def test_engine_and_resume_options_that_do_not_fit_are_refused(
    templates_dir: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert _compare(templates_dir, *extra) == 2
    assert message in capsys.readouterr().err


class _Stopped(Exception):
    """The comparison's process going away mid-run."""


def test_resume_finishes_a_stopped_comparison_and_refuses_a_finished_one(
    templates_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from promptkit.cli.acting_user import acting_person
    from promptkit.models.loader import load_model
    from promptkit.models.scoring import ContinuationScorer
    from promptkit.store import Store
    from promptkit.workflows import ComparisonRequest, run_comparison

    def stop_in_the_second_cell(done: float, total: int) -> None:
        if done > 2:
            raise _Stopped

    model = load_model("tiny:gemma3")
    with Store.open() as store:
        store.import_library(templates_dir=templates_dir)
        actor = acting_person(store).key  # the CLI's own person, so it may resume what it started
        with pytest.raises(_Stopped):
            run_comparison(store, model, ComparisonRequest(family="mini", versions=[1, 2], batch_size=1), actor=actor,
                           scorer=ContinuationScorer(model, batch_size=1), progress=stop_in_the_second_cell)
        (stopped,) = store.list_comparisons()
    resume = ["compare", "--resume", str(stopped.id), "--templates-dir", str(templates_dir)]
    assert main([*resume, "--model", "tiny:gemma1"]) == 2
    assert f"Comparison {stopped.id} was run with tiny:gemma3" in capsys.readouterr().err
    out = tmp_path / "resumed.json"
    assert main([*resume, "--json", str(out)]) == 0
    assert "compare: 6/6 steps" in capsys.readouterr().err  # the three missing cells only
    data = json.loads(out.read_text())
    assert data["comparison_id"] == stopped.id and len(data["cells"]) == 4
    assert main(resume) == 2
    assert f"Comparison {stopped.id} is finished already" in capsys.readouterr().err

"""`python -m promptkit cases export|import`, in-process with a private SQLite store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from promptkit.cli import main
from promptkit.store import Store

MINI_FAMILY = Path(__file__).parents[1] / "data" / "mini_family.yaml"


@pytest.fixture(autouse=True)
def _private_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMPTKIT_DB_URL", raising=False)
    monkeypatch.setenv("PROMPTKIT_DB", str(tmp_path / "store.db"))


@pytest.fixture
def templates_dir(tmp_path: Path) -> Path:
    """A library folder holding only the mini family (cases "soup" and "bread")."""
    folder = tmp_path / "templates"
    folder.mkdir()
    shutil.copy(MINI_FAMILY, folder / "mini.yaml")
    return folder


def _cases(*args: str, templates_dir: Path) -> int:
    return main(["cases", *args, "--templates-dir", str(templates_dir)])


def _stored_cases() -> list[dict[str, object]]:
    with Store.open() as store:
        family = store.get_family(name="mini")
    return [case.to_dict(family_candidates=family.candidate_labels) for case in family.cases]


@pytest.mark.parametrize("file_format", ["csv", "jsonl"])
def test_export_then_import_changes_nothing(
    templates_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], file_format: str
) -> None:
    out = tmp_path / f"cases.{file_format}"
    assert _cases("export", "--family", "mini", "--out", str(out), templates_dir=templates_dir) == 0
    before = _stored_cases()
    assert _cases("import", "--family", "mini", str(out), templates_dir=templates_dir) == 0
    assert f"{out}: 2 test cases read, 0 added or updated in family 'mini'." in capsys.readouterr().out
    assert _stored_cases() == before


def test_export_to_stdout(templates_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cases("export", "--family", "mini", "--format", "jsonl", templates_dir=templates_dir) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["id"] for line in lines] == ["soup", "bread"]
    assert lines[1]["values"] == {"dish": "<script>alert(1)</script>"}


def test_import_adds_a_spreadsheet_row(templates_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sheet = tmp_path / "new.csv"
    sheet.write_text("id,var:dish,expect.labels\r\nstew,=1+1 beef stew,Avoid\r\n", encoding="utf-8", newline="")
    assert _cases("import", "--family", "mini", str(sheet), templates_dir=templates_dir) == 0
    captured = capsys.readouterr()
    assert "1 added or updated" in captured.out
    assert "warning" not in captured.err
    assert _stored_cases()[-1] == {"id": "stew", "values": {"dish": "=1+1 beef stew"}, "expect": {"labels": ["Avoid"]}}


def test_an_imported_change_to_a_library_case_survives_the_next_start(
    templates_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text('{"id": "soup", "values": {"dish": "Leek soup"}}\n', encoding="utf-8")
    assert _cases("import", "--family", "mini", str(cases), templates_dir=templates_dir) == 0
    assert _cases("export", "--family", "mini", "--format", "jsonl", templates_dir=templates_dir) == 0  # a new start
    assert '"dish": "Leek soup"' in capsys.readouterr().out


def test_bad_import_exits_2_and_changes_nothing(
    templates_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cases("export", "--family", "mini", "--format", "csv", templates_dir=templates_dir) == 0
    before = _stored_cases()
    good_rows = capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text(good_rows + "stew,Beef stew,,,,,Maybe,\r\n", encoding="utf-8", newline="")
    assert _cases("import", "--family", "mini", str(bad), templates_dir=templates_dir) == 2
    captured = capsys.readouterr()
    assert f"{bad}:4: column 'expect.labels': label 'Maybe' is not one of the candidate labels" in captured.err
    assert captured.out == ""
    assert _stored_cases() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import", "--family", "mini", "cases.txt"], "Cannot tell the format of cases.txt from its extension"),
        (["export", "--family", "mini"], "Pass --format csv or --format jsonl"),
        (["export", "--family", "nope", "--format", "csv"], "no template family named 'nope'"),
    ],
)
def test_usage_errors_exit_2(
    templates_dir: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert _cases(*args, templates_dir=templates_dir) == 2
    assert message in capsys.readouterr().err

"""`compare --versions 2,1+adapter:NAME`: an adapter trained with `tune` as a comparison column, in-process on tiny Gemma 3."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from promptkit.cli import main
from promptkit.store import Store
from promptkit.templates import load_family_file
from promptkit.templates.case_files import write_cases_jsonl

SHIPPED = Path(__file__).parents[2] / "templates" / "dish-restrictions.yaml"


def test_compare_takes_an_adapter_column(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("PROMPTKIT_DB_URL", raising=False)
    monkeypatch.setenv("PROMPTKIT_DB", str(tmp_path / "store.db"))
    monkeypatch.setenv("PROMPTKIT_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "templates"
    folder.mkdir()
    shutil.copy(SHIPPED, folder)
    family = load_family_file(SHIPPED)
    chosen = []
    for split, count in (("train", 4), ("validation", 2), ("test", 2)):
        for label in family.candidate_labels:
            chosen += [c for c in family.cases if c.id.startswith(f"{split}-") and c.expect and c.expect.labels == (label,)][:count]
    cases = tmp_path / "cases.jsonl"
    write_cases_jsonl(chosen, cases, candidate_labels=family.candidate_labels)
    common = ["--family", "dish-restrictions", "--model", "tiny:gemma3", "--templates-dir", str(folder)]
    assert main(["tune", *common, "--cases", str(cases), "--version", "1", "--epochs", "1", "--name", "dishes"]) == 0
    capsys.readouterr()
    test_cases = tmp_path / "test-cases.yaml"
    test_cases.write_text(yaml.safe_dump({"cases": [
        {"id": c.id, "values": dict(c.values), "expect": {"labels": list(c.expect.labels)}} for c in chosen if c.id.startswith("test-")
    ]}))
    common += ["--cases", str(test_cases)]

    out = tmp_path / "compare.json"
    assert main(["compare", *common, "--versions", "2,plain+adapter:dishes", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "v2 rule-stated: pass rate" in printed and "v1 plain + adapter:dishes: pass rate" in printed
    data = json.loads(out.read_text())
    assert data["columns"] == ["2", "1+adapter:dishes"] and data["versions"] == [2, 1]
    assert set(data["summary"]) == {"2", "1+adapter:dishes"} and "calibration" in data["summary"]["2"]["metrics"]
    assert {cell["column"] for cell in data["cells"]} == {"2", "1+adapter:dishes"}
    with Store.open() as store:
        runs = store.list_runs(family="dish-restrictions")
    assert sorted({run.model for run in runs}) == ["tiny:gemma3", "tiny:gemma3+adapter:dishes"]

    assert main(["compare", *common, "--versions", "2,1+adapter:gone"]) == 2
    assert "There is no adapter 'gone' (trained adapters: dishes)" in capsys.readouterr().err

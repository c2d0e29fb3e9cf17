"""`python -m promptkit tune`, in-process with a private store and model cache, on tiny Gemma 3."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from promptkit.cli import main
from promptkit.store import Store
from promptkit.templates import load_family_file
from promptkit.templates.case_files import write_cases_jsonl

ROOT = Path(__file__).parents[2]
SHIPPED = ROOT / "templates" / "dish-restrictions.yaml"


@pytest.fixture(autouse=True)
def _private_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMPTKIT_DB_URL", raising=False)
    monkeypatch.setenv("PROMPTKIT_DB", str(tmp_path / "store.db"))
    monkeypatch.setenv("PROMPTKIT_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def templates_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    folder.mkdir()
    shutil.copy(SHIPPED, folder)
    return folder


@pytest.fixture
def cases_file(tmp_path: Path) -> Path:
    """Twenty-four of the shipped cases as JSONL: per label 6 train, 3 validation, 3 test."""
    family = load_family_file(SHIPPED)
    chosen = []
    for split, count in (("train", 6), ("validation", 3), ("test", 3)):
        for label in family.candidate_labels:
            chosen += [c for c in family.cases if c.id.startswith(f"{split}-") and c.expect and c.expect.labels == (label,)][:count]
    path = tmp_path / "cases.jsonl"
    write_cases_jsonl(chosen, path, candidate_labels=family.candidate_labels)
    return path


def _tune(*args: str, templates_dir: Path) -> int:
    return main(["tune", "--family", "dish-restrictions", "--model", "tiny:gemma3", *args, "--templates-dir", str(templates_dir)])


def test_tune_prints_json_records_the_adapter_and_the_name_loads(
    templates_dir: Path, cases_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = _tune(
        "--version", "1", "--cases", str(cases_file), "--rank", "2", "--epochs", "2", "--seed", "3",
        "--learning-rate", "0.02", "--name", "dishes", "--json", templates_dir=templates_dir,
    )
    captured = capsys.readouterr()
    assert status == 0, captured.err
    data = json.loads(captured.out)
    assert data["adapter"] == "dishes" and data["model"] == "tiny:gemma3+adapter:dishes" and data["version"] == 1
    assert (data["train_size"], data["validation_size"], data["test_size"], data["epochs_run"]) == (12, 6, 6, 2)
    assert data["settings"] == {"rank": 2, "epochs": 2, "learning_rate": 0.02, "batch_size": 4, "seed": 3, "patience": 2}
    assert {"accuracy", "macro_f1", "roc_auc", "confusion"} <= set(data["test_metrics"]["before"])
    assert "tune: epoch 2, step 6/6" in captured.err and "validation loss" in captured.err
    with Store.open() as store:
        assert store.find_adapter("dishes").metrics["test_metrics"] == data["test_metrics"]

    out = templates_dir.parent / "again.json"
    assert _tune("--cases", str(cases_file), "--name", "dishes", "--json", str(out), templates_dir=templates_dir) == 2
    assert "An adapter named 'dishes' exists already" in capsys.readouterr().err and not out.exists()

    # The adapter's name works as a model name wherever one is taken.
    prompt = templates_dir.parent / "prompt.txt"
    prompt.write_text("Diner: Vegan\nDish: Pad thai\nAnswer:", encoding="utf-8")
    assert main(["generate", "--model", "tiny:gemma3+adapter:dishes", "--max-new-tokens", "2", "--prompt-file", str(prompt)]) == 0


def test_tune_without_json_prints_the_metrics_and_the_model_name(
    templates_dir: Path, cases_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _tune("--cases", str(cases_file), "--epochs", "1", "--name", "plain", templates_dir=templates_dir) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("before: accuracy ") and out[1].startswith("after:  accuracy ")
    assert out[2] == "Adapter plain saved; load it as model 'tiny:gemma3+adapter:plain'."


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rank", "0", "--name", "a"], "LoRA rank must be at least 1"),
        (["--name", "A B"], "cannot name an adapter"),
        (["--version", "7", "--name", "a"], "no version '7'"),
    ],
)
def test_bad_input_exits_2_before_loading_a_model(
    templates_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.setattr("promptkit.models.loader.load_model", lambda *a, **k: pytest.fail("loaded a model"))
    assert _tune(*args, templates_dir=templates_dir) == 2
    assert message in capsys.readouterr().err

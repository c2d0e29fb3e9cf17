"""Tune page: an adapter trained on the tiny model with progress, its before/after metrics; bad input refused first."""

from __future__ import annotations

from pathlib import Path

import pytest
from apphelpers import button, no_errors, open_page
from streamlit.testing.v1 import AppTest

from promptkit.models.lora import adapter_dir
from promptkit.store import Store

TUNE = "dashboard/views/tune.py"
COMPARE = "dashboard/views/compare.py"
FAMILY = "tiny-dishes"


@pytest.fixture
def tune_library(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A library holding only a family of 16 labelled dish cases; a private model cache for the adapters."""
    folder = app_env / "templates"
    folder.mkdir()
    (folder / "tiny-dishes.yaml").write_text((Path(__file__).parent / "tune_family.yaml").read_text())
    monkeypatch.setenv("PROMPTKIT_TEMPLATES_DIR", str(folder))
    monkeypatch.setenv("PROMPTKIT_CACHE", str(app_env / "cache"))
    return folder


def fill(at: AppTest, *, name: str, rank: int = 2, epochs: int = 2) -> AppTest:
    """Fills the training form with fast settings and presses Train adapter."""
    at.text_input(key=f"pk_tune_name::{FAMILY}").set_value(name)
    at.number_input(key="pk_tune_rank").set_value(rank)
    at.number_input(key="pk_tune_epochs").set_value(epochs)
    at.number_input(key="pk_tune_lr").set_value(2e-2)
    at.number_input(key="pk_tune_batch").set_value(4)
    button(at, "Train adapter").click()
    return at.run()


def test_an_adapter_is_trained_and_judged_before_and_after(tune_library: Path) -> None:
    at = open_page(TUNE)
    no_errors(at)
    assert at.selectbox(key="pk_tune_family").value == FAMILY
    assert at.selectbox(key=f"pk_tune_version::{FAMILY}").value == 2  # the latest version
    assert at.text_input(key=f"pk_tune_name::{FAMILY}").value == "tiny-dishes-1"  # a free name is suggested
    at = fill(at, name="dishes")
    no_errors(at)
    assert any("Trained tiny:gemma3+adapter:dishes in" in item.value for item in at.success)
    with Store.open() as store:
        record = store.find_adapter("dishes")
    assert record is not None and (record.family, record.version, record.rank, record.epochs) == (FAMILY, 2, 2, 2)
    # Two epochs of two steps each (8 training cases, batch 4), every step's loss kept for the curve.
    assert len(record.metrics["step_losses"]) == 4
    table = at.dataframe[0].value
    assert list(table["Model"]) == ["Base model", "With the adapter"]
    after = record.metrics["test_metrics"]["after"]
    assert table["Accuracy"][1] == f"{after['accuracy']:.2f}"
    assert table["Calibration error (ECE)"][1] == f"{after['calibration']['expected_calibration_error']:.3f}"
    assert any("tiny:gemma3+adapter:dishes" in item.value for item in at.caption)
    charts = at.get("plotly_chart")
    assert len(charts) == 2
    assert '"validation loss"' in charts[0].proto.spec and "ECE" in charts[1].proto.spec
    assert (adapter_dir("dishes") / "factors.npz").is_file()
    # The next suggested name is free, and the result leads to Compare, with the adapter as a column.
    assert at.text_input(key=f"pk_tune_name::{FAMILY}").value == "tiny-dishes-1"
    button(at, "Compare with this adapter").click()
    at.run()
    no_errors(at)
    assert at.multiselect(key=f"pk_cmp_adapters::{FAMILY}").value == ["dishes"]
    at.switch_page(COMPARE)  # AppTest reruns the page it was told to, not the one the app switched to
    at.multiselect(key=f"pk_cmp_versions::{FAMILY}").set_value([1, 2])
    at.multiselect(key=f"pk_cmp_cases::{FAMILY}").set_value(["test-coeliac-lentil-soup"])
    at.number_input(key="pk_cmp_max_tokens").set_value(4)
    button(at, "Run comparison").click()
    at.run()
    no_errors(at)
    table = at.dataframe[0].value
    assert list(table.columns) == ["Test case", "v1 · plain", "v2 · rule-stated", "v2 · rule-stated + adapter:dishes"]
    outcomes = at.dataframe[1].value
    assert list(outcomes["Version"])[-1] == "v2 · rule-stated + adapter:dishes"
    assert "Calibration error (ECE)" in outcomes.columns
    assert any(item.label.startswith("Calibration") for item in at.expander)
    with Store.open() as store:
        (comparison,) = store.list_comparisons()
        runs = store.list_runs(family=FAMILY)
    assert [str(column) for column in comparison.columns] == ["1", "2", "2+adapter:dishes"]
    assert sorted(run.model for run in runs) == ["tiny:gemma3", "tiny:gemma3", "tiny:gemma3+adapter:dishes"]


@pytest.mark.parametrize(
    ("name", "rank", "message"),
    [
        ("r0", 0, "The LoRA rank must be at least 1 (got 0)"),
        ("Bad Name", 2, "'Bad Name' cannot name an adapter"),
    ],
)
def test_bad_settings_are_said_before_training(tune_library: Path, name: str, rank: int, message: str) -> None:
    at = fill(open_page(TUNE), name=name, rank=rank)
    assert any(message in item.value for item in at.error), [item.value for item in at.error]
    assert not at.exception and not at.get("plotly_chart")
    with Store.open() as store:
        assert store.list_adapters() == []
    assert not (adapter_dir("r0")).exists()


def test_a_taken_name_and_too_few_examples_are_said_before_training(
    tune_library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter_dir("taken").mkdir(parents=True)
    at = fill(open_page(TUNE), name="taken")
    assert any("An adapter named 'taken' exists already" in item.value for item in at.error)
    monkeypatch.setattr("promptkit.workflows.tune.MIN_EXAMPLES_PER_LABEL", 5)
    at = fill(at, name="fresh")
    assert any("Only 4 training case(s) expect 'Avoid'; each label needs at least 5" in item.value for item in at.error)
    assert not at.exception
    with Store.open() as store:
        assert store.list_adapters() == []
    assert not adapter_dir("fresh").exists()

"""The tune workflow: checked before any training, an adapter trained, saved, recorded and judged on the test split."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from promptkit.errors import PromptkitError
from promptkit.models.gemma_model import GemmaModel
from promptkit.models.loader import with_adapter
from promptkit.models.lora import TrainingCancelled, TrainingProgress, TrainingSettings, adapter_dir
from promptkit.people import AccessPolicy, PermissionDenied, Role
from promptkit.store import Store
from promptkit.templates import Expectation, TestCase
from promptkit.workflows import TuneRequest, prepare_tuning, run_tuning
from promptkit.workflows.tune import case_split

ROOT = Path(__file__).parents[2]
FAST = TrainingSettings(rank=2, epochs=2, learning_rate=2e-2, batch_size=4, seed=5)


@pytest.fixture
def dish_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """A store holding the shipped dish-restrictions family and its editor Ada; a private model cache."""
    monkeypatch.setenv("PROMPTKIT_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "templates"
    folder.mkdir()
    shutil.copy(ROOT / "templates" / "dish-restrictions.yaml", folder)
    store = Store.open(url=f"sqlite:///{tmp_path / 'store.db'}")
    store.import_library(templates_dir=folder)
    store.arrive(key="ada", name="Ada", policy=AccessPolicy())
    try:
        yield store
    finally:
        store.close()


def small_cases(store: Store, *, train: int = 5, validation: int = 2, test: int = 3) -> tuple[TestCase, ...]:
    """The first cases of each split and label of the dish family."""
    cases = store.get_family(name="dish-restrictions").cases
    chosen: list[TestCase] = []
    for split, count in (("train", train), ("validation", validation), ("test", test)):
        for label in ("Avoid", "Likely good"):
            chosen += [c for c in cases if case_split(c.id) == split and c.expect and c.expect.labels == (label,)][:count]
    return tuple(chosen)


def test_an_adapter_is_trained_saved_recorded_and_judged(dish_store: Store, tiny_gemma3: GemmaModel) -> None:
    cases = small_cases(dish_store)
    request = TuneRequest(family="dish-restrictions", name="dishes", version=1, cases=cases, settings=FAST)
    phases: list[str] = []
    result = run_tuning(dish_store, tiny_gemma3, request, actor="ada", status=phases.append)
    data = result.to_json()
    assert data["adapter"] == "dishes" and data["model"] == "tiny:gemma3+adapter:dishes"
    assert (data["train_size"], data["validation_size"], data["test_size"]) == (10, 4, 6)
    assert data["epochs_run"] == 2 and [h["epoch"] for h in data["history"]] == [1, 2]
    assert set(data["history"][0]) == {"epoch", "loss", "validation_loss", "validation_macro_f1"}
    for when in ("before", "after"):
        metrics = data["test_metrics"][when]
        assert metrics["labels"] == ["Avoid", "Likely good"] and sum(map(sum, metrics["confusion"])) == 6
        assert set(metrics) == {"labels", "accuracy", "macro_f1", "roc_auc", "confusion", "calibration"}
        calibration = metrics["calibration"]
        assert sum(b["count"] for b in calibration["bins"]) == 6 and 0 <= calibration["expected_calibration_error"] <= 1
    # Five steps an epoch (10 training cases, batch 4, the last batch short), each step's loss kept.
    assert len(data["step_losses"]) == 6 and data["step_losses"] == record_losses(dish_store, "dishes")
    assert [phase.split(" ", 1)[0] for phase in phases] == ["Scoring", "Training", "Scoring"]
    record = dish_store.find_adapter("dishes")
    assert record == result.record
    assert (record.base_model, record.family, record.version, record.rank, record.seed) == ("tiny:gemma3", "dish-restrictions", 1, 2, 5)
    assert record.epochs == 2 and record.created_by == "ada" and len(record.data_hash) == 64
    assert record.metrics["test_metrics"] == data["test_metrics"] and record.settings["learning_rate"] == 2e-2
    assert (adapter_dir("dishes") / "factors.npz").is_file()
    assert with_adapter(tiny_gemma3, "dishes").info.name == "tiny:gemma3+adapter:dishes"


def record_losses(store: Store, name: str) -> list[float]:
    """The step losses the store keeps for an adapter."""
    record = store.find_adapter(name)
    assert record is not None
    return list(record.metrics["step_losses"])


class PageRerun(BaseException):
    """Stands for the signal a dashboard page raises in its progress callback when its Cancel button is clicked."""


def test_a_training_stopped_by_its_progress_callback_leaves_nothing_and_frees_the_model(
    dish_store: Store, tiny_gemma3: GemmaModel
) -> None:
    steps: list[int] = []

    def cancel_after_two(report: TrainingProgress) -> None:
        steps.append(report.step)
        if report.step == 2:
            raise PageRerun

    request = TuneRequest(family="dish-restrictions", name="stopped", cases=small_cases(dish_store), settings=FAST)
    with pytest.raises(PageRerun):
        run_tuning(dish_store, tiny_gemma3, request, actor="ada", progress=cancel_after_two)
    assert steps == [1, 2]
    assert dish_store.list_adapters() == [] and not adapter_dir("stopped").exists()
    assert tiny_gemma3.lock.acquire(blocking=False)  # nobody holds the model
    tiny_gemma3.lock.release()
    with pytest.raises(TrainingCancelled):
        run_tuning(dish_store, tiny_gemma3, request, actor="ada", should_stop=lambda: True)
    assert dish_store.list_adapters() == [] and not adapter_dir("stopped").exists()


def test_the_data_hash_names_the_examples(dish_store: Store) -> None:
    cases = small_cases(dish_store)
    request = TuneRequest(family="dish-restrictions", name="a", cases=cases, settings=FAST)
    first = prepare_tuning(dish_store, request, actor="ada")
    assert first.version == 2  # the latest version when none is named
    assert prepare_tuning(dish_store, request, actor="ada").data_hash() == first.data_hash()
    relabelled = (dataclasses.replace(cases[0], expect=Expectation(labels=("Likely good",), candidates=("Avoid", "Likely good"))), *cases[1:])
    assert prepare_tuning(dish_store, dataclasses.replace(request, cases=relabelled), actor="ada").data_hash() != first.data_hash()
    assert prepare_tuning(dish_store, dataclasses.replace(request, version=1), actor="ada").data_hash() != first.data_hash()


def test_the_shipped_family_splits_by_its_ids(dish_store: Store) -> None:
    data = prepare_tuning(dish_store, TuneRequest(family="dish-restrictions", name="a"), actor="ada")
    sizes = {split: len(data.split(split)) for split in ("train", "validation", "test")}
    assert sizes == {"train": 490, "validation": 106, "test": 104}
    assert all(case.prefix.endswith("Answer (Avoid or Likely good):") for case in data.cases)


def test_cases_whose_ids_name_no_split_are_split_by_a_hash_of_the_id() -> None:
    ids = [f"case-{index}" for index in range(2000)]
    splits = [case_split(case_id) for case_id in ids]
    assert splits == [case_split(case_id) for case_id in ids]  # stable
    assert 0.07 < splits.count("test") / 2000 < 0.13 and 0.07 < splits.count("validation") / 2000 < 0.13
    assert case_split("test-x") == "test" and case_split("validation-x") == "validation" and case_split("train-x") == "train"
    assert case_split("testing-x") == case_split("testing-x") and case_split("test") in ("train", "validation", "test")


def _with_label(case: TestCase, label: str) -> TestCase:
    return dataclasses.replace(case, expect=Expectation(labels=(label,), candidates=("Avoid", "Likely good")))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda cases: cases[:3] + cases[4:], "Only 4 training case\\(s\\) expect 'Avoid'; each label needs at least 5"),
        (lambda cases: (_with_label(cases[0], "Delicious"), *cases[1:]), "expects 'Delicious', which is not one of the labels"),
        (lambda cases: (dataclasses.replace(cases[0], expect=None), *cases[1:]), "1 case\\(s\\) have no expected label"),
        (lambda cases: tuple(c for c in cases if not c.id.startswith("validation-")), "No case falls in the validation split"),
        (lambda cases: tuple(c for c in cases if not c.id.startswith("test-")), "No case falls in the test split"),
        (lambda cases: tuple(_with_label(c, "Avoid") for c in cases), "Every case expects 'Avoid'"),
        (lambda cases: (), "no cases to train on"),
    ],
)
def test_bad_cases_are_refused_before_training(dish_store: Store, monkeypatch: pytest.MonkeyPatch, change, message) -> None:
    monkeypatch.setattr("promptkit.workflows.tune.MIN_EXAMPLES_PER_LABEL", 5)
    request = TuneRequest(family="dish-restrictions", name="a", cases=change(small_cases(dish_store)), settings=FAST)
    with pytest.raises(PromptkitError, match=message):
        prepare_tuning(dish_store, request, actor="ada")


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (TuneRequest(family="dish-restrictions", name="a", settings=TrainingSettings(rank=0)), "LoRA rank must be at least 1"),
        (TuneRequest(family="dish-restrictions", name="Bad Name"), "cannot name an adapter"),
        (TuneRequest(family="nope", name="a"), "no template family named 'nope'"),
        (TuneRequest(family="dish-restrictions", name="a", version=9), "no version 9"),
    ],
)
def test_bad_requests_are_refused_before_training(dish_store: Store, request_: TuneRequest, message: str) -> None:
    with pytest.raises(PromptkitError, match=message):
        prepare_tuning(dish_store, request_, actor="ada")


def test_a_taken_name_an_adapted_base_and_a_case_too_long_are_refused(dish_store: Store, tiny_gemma3: GemmaModel) -> None:
    cases = small_cases(dish_store)
    request = TuneRequest(family="dish-restrictions", name="taken", cases=cases, settings=FAST)
    adapter_dir("taken").mkdir(parents=True)
    with pytest.raises(PromptkitError, match="An adapter named 'taken' exists already"):
        prepare_tuning(dish_store, request, actor="ada")
    adapter_dir("taken").rmdir()
    adapted = dataclasses.replace(tiny_gemma3.info, name="tiny:gemma3+adapter:x")
    with pytest.raises(PromptkitError, match="has an adapter already; train on its base model"):
        run_tuning(dish_store, GemmaModel(tiny_gemma3.causal_lm, info=adapted), request, actor="ada")
    long = dataclasses.replace(cases[0], values={**cases[0].values, "ingredients": "eggs, " * 600})
    with pytest.raises(PromptkitError, match=f"Case '{cases[0].id}' is .* over tiny:gemma3's context of 512"):
        run_tuning(dish_store, tiny_gemma3, dataclasses.replace(request, cases=(long, *cases[1:])), actor="ada")
    assert dish_store.list_adapters() == [] and not adapter_dir("taken").exists()


def test_training_is_an_editors_job(dish_store: Store) -> None:
    team = AccessPolicy(team=True, default_role=Role.REVIEWER)
    dish_store.arrive(key="rita@example.org", name="Rita", policy=team)
    with pytest.raises(PermissionDenied, match="train an adapter"):
        prepare_tuning(dish_store, TuneRequest(family="dish-restrictions", name="a"), actor="rita@example.org")

"""Saving completions as runs, recording run ids, and a matrix rebuilt from stored runs."""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

from promptkit.evaluation.runs import RecordingSink, matrix_from_runs, record_playground_run, save_completion
from promptkit.generation import Completion, GeneratedToken, GenerationSettings, StopReason
from promptkit.store.records import FamilyRecord, RunRecord, VersionRecord
from promptkit.templates import GenerationDefaults

WHEN = datetime(2025, 1, 31, tzinfo=timezone.utc)


class FakeStore:
    """Keeps the fields of each run and numbers them."""

    def __init__(self) -> None:
        self.runs: list[dict] = []

    def add_run(self, **fields):
        self.runs.append(fields)
        return SimpleNamespace(id=len(self.runs), **fields)


def _family(mini_family, numbers=(1, 2)) -> FamilyRecord:
    versions = tuple(
        VersionRecord(
            family="mini", number=n, label=f"v{n}", text=mini_family.versions[0].text, author="", note="",
            parent=None, generation=GenerationDefaults(), created_at=WHEN,
        )
        for n in numbers
    )
    return FamilyRecord(
        name="mini", description="", candidate_labels=mini_family.candidate_labels, versions=versions,
        cases=mini_family.cases, created_at=WHEN,
    )


def _run(id, version, case_id, completion, *, model="m", error=None) -> RunRecord:
    return RunRecord(
        id=id, family="mini", version=version, case_id=case_id, variables={}, prompt=f"prompt {id}\n", model=model,
        generation={}, seed=None, completion=completion, tokens=[], stop_reason=None, timings={}, error=error,
        created_at=WHEN,
    )


def test_save_completion_records_settings_tokens_and_seed() -> None:
    store = FakeStore()
    completion = Completion(
        prompt="P:", text=" ok", tokens=(GeneratedToken(id=3, text=" ok", start=0, end=3, logprob=-0.2),),
        stop_reason=StopReason.MAX_NEW_TOKENS, timings={"total_s": 0.1},
    )
    settings = GenerationSettings(max_new_tokens=4, temperature=0.7, seed=9)
    record = save_completion(
        store, family="mini", version=2, model="tiny", completion=completion, values={"dish": "x"},
        settings=settings, case_id="soup",
    )
    assert record.id == 1
    assert store.runs[0] == {
        "family": "mini", "version": 2, "model": "tiny", "prompt": "P:", "completion": " ok",
        "variables": {"dish": "x"}, "generation": settings.to_dict(), "seed": 9,
        "tokens": [{"id": 3, "text": " ok", "start": 0, "end": 3, "logprob": -0.2}],
        "stop_reason": "max_new_tokens", "timings": {"total_s": 0.1}, "case_id": "soup",
    }
    save_completion(
        store, family="mini", version=2, model="tiny", completion=completion, values={},
        settings=GenerationSettings(seed=9), case_id=None,
    )
    assert store.runs[1]["seed"] is None  # greedy decoding uses no seed


def test_recording_sink_remembers_ids_by_version_and_prompt() -> None:
    sink = RecordingSink(FakeStore())
    sink.add_run(version="2", prompt="a")
    sink.add_run(version=3, prompt="b")
    assert sink.run_ids == {(2, "a"): 1, (3, "b"): 2}


def test_matrix_from_runs_takes_the_newest_run_per_cell(mini_family) -> None:
    runs = [
        _run(1, 1, "soup", "\nRecommendation: Likely good"),
        _run(2, 1, "soup", " Recommendation: Avoid", model="b"),
        _run(3, 2, "bread", " Recommendation: Avoid", model="a"),
        _run(4, 2, None, "own values are left out"),
        _run(5, 1, "unknown-case", "left out"),
    ]
    result = matrix_from_runs(_family(mini_family), runs)
    assert [v.number for v in result.versions] == [1, 2]
    assert [c.id for c in result.cases] == ["soup", "bread"]
    assert result.model == "a, b"
    assert result.cell(1, "soup").completion == " Recommendation: Avoid" and result.cell(1, "soup").passed
    assert result.cell(2, "bread").passed is False  # not_contains Avoid
    assert result.cell(1, "bread").error == "not run yet" and result.cell(2, "soup").error == "not run yet"
    assert result.summary[1].pass_rate is not None


def test_matrix_from_runs_keeps_the_newest_versions(mini_family) -> None:
    family = _family(mini_family, numbers=(1, 2, 3, 4, 5))
    runs = [_run(n, n, "soup", " Recommendation: Avoid") for n in range(1, 6)]
    assert [v.number for v in matrix_from_runs(family, runs).versions] == [2, 3, 4, 5]
    assert [v.number for v in matrix_from_runs(family, runs, max_versions=2).versions] == [4, 5]


def test_a_playground_run_saves_an_edit_as_a_version_first(templates_dir, tmp_path) -> None:
    from promptkit.store import Store
    from promptkit.templates import TestCase

    completion = Completion("Dish: Soup\nRecommendation:", " Avoid.", (), StopReason.STOP_SEQUENCE, {"total_s": 0.1})
    case = TestCase("soup", {"dish": "Soup"})
    with Store.open(url=f"sqlite:///{tmp_path / 'store.db'}") as store:
        store.import_library(templates_dir=templates_dir)
        parent = store.get_version(family="mini", version=1)
        options = {"family": "mini", "model": "m", "completion": completion, "settings": GenerationSettings(), "case": case}
        run, saved = record_playground_run(store, parent=parent, text=parent.text, note="", values={"dish": "Soup"}, **options)
        assert saved is None and (run.version, run.case_id) == (1, "soup")
        run, saved = record_playground_run(store, parent=parent, text=parent.text + "\n", note=" ", values={"dish": "Stew"}, **options)
        version = store.get_version(family="mini", version=saved)
        assert (run.version, run.case_id) == (saved, None)  # Values typed over the case's: no case.
        assert version.parent == 1 and version.text == parent.text + "\n" and "saved automatically" in version.note

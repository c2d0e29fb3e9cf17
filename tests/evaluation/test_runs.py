"""Saving completions as runs, recording run ids, and a matrix rebuilt from stored runs."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from promptkit.evaluation.runs import RecordingSink, save_completion
from promptkit.generation import Completion, GeneratedToken, GenerationSettings, StopReason
from promptkit.store.records import FamilyRecord, RunRecord, VersionRecord
from promptkit.templates import GenerationDefaults

WHEN = datetime(2025, 1, 31, tzinfo=UTC)


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

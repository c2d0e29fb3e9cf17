"""Recording the ids of the runs a comparison saves."""

from __future__ import annotations

from pathlib import Path

from promptkit.evaluation.runs import RecordingSink
from promptkit.generation import Completion, GeneratedToken, GenerationSettings, StopReason
from promptkit.store import Store


def test_recording_sink_remembers_ids_by_version_number_and_prompt(templates_dir: Path, tmp_path: Path) -> None:
    completion = Completion(
        prompt="P:", text=" ok", tokens=(GeneratedToken(id=3, text=" ok", start=0, end=3, logprob=-0.2),),
        stop_reason=StopReason.MAX_NEW_TOKENS, timings={"total_s": 0.1},
    )
    with Store.open(url=f"sqlite:///{tmp_path / 'store.db'}") as store:
        store.import_library(templates_dir=templates_dir)
        sink = RecordingSink(store)
        saved = sink.add_run(
            family="mini", version="second", model="tiny", completion=completion, values={"dish": "x"},
            settings=GenerationSettings(), case_id="soup",
        )
        failed = sink.add_failed_run(
            family="mini", version=1, model="tiny", prompt="Q:", values={}, settings=GenerationSettings(),
            error="too long",
        )
        assert sink.run_ids == {(2, "P:"): saved.id, (1, "Q:"): failed.id}
        assert store.get_run(run_id=saved.id).as_completion() == completion
        assert store.get_run(run_id=failed.id).error == "too long"

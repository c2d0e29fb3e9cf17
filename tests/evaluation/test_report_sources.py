"""Report inputs read back from the store: heatmaps of stored salience, reviews."""

from __future__ import annotations

from pathlib import Path

from promptkit.evaluation import stored_heatmaps
from promptkit.generation import Completion, GenerationSettings, StopReason
from promptkit.salience import SalienceResult
from promptkit.store import Store

PROMPT = "Taste-likes: Cheese\nAnalysis:"
COMPLETION = " it has eggs.\nRecommendation: Avoid."


def _scores() -> list[dict]:
    text = PROMPT + COMPLETION
    words, position = [], 0
    for index, word in enumerate(text.split(" ")):
        piece = word if position + len(word) == len(text) else word + " "
        words.append({"text": piece, "start": position, "end": position + len(piece), "score": float(index)})
        position += len(piece)
    return words


def _store_with_run(tmp_path: Path) -> tuple[Store, object]:
    store = Store.open(url=f"sqlite:///{tmp_path / 'report.db'}")
    store.add_family(name="menu", description="", candidate_labels=())
    store.add_version(family="menu", text=PROMPT, author="t", note="first")
    run = store.add_run(
        family="menu", version=1, model="tiny",
        completion=Completion(PROMPT, COMPLETION, (), StopReason.STOP_SEQUENCE, {}), values={}, settings=GenerationSettings(),
    )
    return store, run


def test_stored_scores_become_heatmaps_without_a_model(tmp_path):
    store, run = _store_with_run(tmp_path)
    start = COMPLETION.index("Avoid")
    store.put_salience(run_id=run.id, target_start=start, target_end=len(COMPLETION), method="grad_l2", scores=_scores())
    (caption, text), = stored_heatmaps(store, [run]).items()
    assert f"Run #{run.id}" in caption and "grad_l2" in caption and "“Avoid.”" in caption
    assert 'class="pk-salience-text"' in text and 'class="pk-outline"' in text and "gradient norm" in text


def test_rebuilt_result_marks_the_stored_target_span():
    start = COMPLETION.index("Avoid")
    result = SalienceResult.from_token_scores(
        model="tiny", prompt=PROMPT, target=COMPLETION, method="grad_dot_input",
        tokens=_scores(), target_start=start, target_end=len(COMPLETION),
    )
    assert result.text[slice(*result.target_span)] == "Avoid."
    assert result.signed
    assert "".join(segment.text for segment in result.segments("lines").segments) == PROMPT + COMPLETION

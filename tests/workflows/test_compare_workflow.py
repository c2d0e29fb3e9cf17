"""The compare workflow: a comparison is run, stored with its cells, and read back equal without a model."""

from __future__ import annotations

import pytest

from promptkit.errors import PromptkitError, StoreError
from promptkit.models.scoring import ContinuationScorer
from promptkit.store import ComparisonCellRecord
from promptkit.templates import TestCase
from promptkit.workflows import ComparisonRequest, load_comparison, run_comparison


def test_a_stored_comparison_reads_back_as_it_ran(mini_store, tiny_gemma3):
    stored = run_comparison(
        mini_store,
        tiny_gemma3,
        ComparisonRequest(family="mini", versions=[1, "second"], samples=2),
        actor="ada",
        scorer=ContinuationScorer(tiny_gemma3),
    )
    record = stored.record
    assert record.family == "mini" and record.versions == (1, 2) and record.created_by == "ada"
    assert record.model == "tiny:gemma3" and record.finished_at is not None
    assert [c.id for c in record.cases] == ["soup", "bread"]
    assert len(record.cells) == 4 and all(cell.run_id is not None for cell in record.cells)
    for cell in stored.result.cells:
        run = mini_store.get_run(run_id=stored.run_id(cell.version, cell.case))
        assert run.completion == cell.completion and run.version == cell.version and run.case_id == cell.case
    again = load_comparison(mini_store, record.id)
    assert again.result.to_json() == stored.result.to_json()  # completions, checks, likelihoods, samples, summaries
    assert set(again.result.cells[0].outcome_likelihoods) == {"Avoid", "Likely good"}
    assert all(len(cell.samples) == 2 for cell in again.result.cells)
    assert [c.id for c in mini_store.list_comparisons(family="mini")] == [record.id]


def test_a_users_own_cases_are_stored_with_the_comparison(mini_store, tiny_gemma3):
    stew = TestCase(id="stew", values={"dish": "Beef stew"})
    stored = run_comparison(
        mini_store, tiny_gemma3, ComparisonRequest(family="mini", versions=[1, 2], cases=(stew,), max_new_tokens=3),
        actor="ada",
    )
    again = load_comparison(mini_store, stored.record.id)
    assert again.record.cases == (stew,) and again.record.settings["max_new_tokens"] == 3
    assert again.result.to_json() == stored.result.to_json()
    assert all(not cell.outcome_likelihoods for cell in again.result.cells)  # no scorer given: none measured


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (ComparisonRequest(family="mini", versions=[1]), "at least two versions"),
        (ComparisonRequest(family="mini", versions=[1, 2], samples=-1), "samples must be 0 or more"),
        (ComparisonRequest(family="mini", versions=[1, 2], batch_size=0), "batch size must be at least 1"),
        (ComparisonRequest(family="mini", versions=[1, 2], max_new_tokens=0), "Max new tokens must be at least 1"),
        (ComparisonRequest(family="mini", versions=[1, 9]), "9"),
        (ComparisonRequest(family="nope", versions=[1, 2]), "nope"),
    ],
)
def test_a_bad_request_is_refused_and_stores_nothing(mini_store, tiny_gemma3, request_, message):
    with pytest.raises(PromptkitError, match=message):
        run_comparison(mini_store, tiny_gemma3, request_, actor="ada")
    assert mini_store.list_comparisons() == [] and mini_store.list_runs() == []


def test_cells_outside_the_comparison_are_refused_whole(mini_store):
    started = mini_store.start_comparison(
        family="mini", versions=[1, 2], cases=mini_store.get_family(name="mini").cases, model="m", settings={},
        created_by="ada",
    )
    good = ComparisonCellRecord(version=1, case_id="soup", run_id=None, prompt=None, outcome_likelihoods={},
                                samples=(), agreement=None, error="rendering failed")
    stray = ComparisonCellRecord(version=3, case_id="soup", run_id=None, prompt=None, outcome_likelihoods={},
                                 samples=(), agreement=None, error=None)
    with pytest.raises(StoreError, match="has no cell v3"):
        mini_store.finish_comparison(started.id, cells=[good, stray])
    assert mini_store.get_comparison(started.id).cells == ()  # the good cell was not kept either
    with pytest.raises(PromptkitError, match="still running or was interrupted"):
        load_comparison(mini_store, started.id)
    finished = mini_store.finish_comparison(started.id, cells=[good])
    assert finished.cells == (good,)
    with pytest.raises(StoreError, match="finished already"):
        mini_store.finish_comparison(started.id, cells=[good])


def test_an_unknown_comparison_says_how_to_list_them(mini_store):
    with pytest.raises(StoreError, match="no comparison 42; `python -m promptkit comparisons --json`"):
        load_comparison(mini_store, 42)


class _Stopped(Exception):
    """What a dashboard rerun raises inside a progress update when the user presses Stop."""


def test_a_stopped_comparison_frees_the_model_at_once_and_keeps_what_finished(mini_store, tiny_gemma3):
    import threading
    import time

    from promptkit.generation import GenerationSettings

    updates = []

    def stop_after_some_progress(done: float, total: int) -> None:
        updates.append(done)
        if done >= 2:
            raise _Stopped

    request = ComparisonRequest(family="mini", versions=[1, 2], batch_size=1, max_new_tokens=4)
    with pytest.raises(_Stopped):
        run_comparison(mini_store, tiny_gemma3, request, actor="ada", progress=stop_after_some_progress)
    (comparison,) = mini_store.list_comparisons()
    assert comparison.finished_at is None  # kept, as unfinished
    kept = mini_store.list_runs(family="mini")
    assert 1 <= len(kept) < 4  # what finished before the stop is stored; the rest never ran
    assert len(mini_store.get_comparison(comparison.id).cells) == len(kept)  # each with its comparison cell
    # The model is free at once: another session's generation does not wait for the stopped one.
    acquired = tiny_gemma3.lock.acquire(timeout=1.0)
    assert acquired
    tiny_gemma3.lock.release()
    started = time.monotonic()
    thread = threading.Thread(
        target=lambda: tiny_gemma3.generate(["Soup?"], settings=GenerationSettings(max_new_tokens=2, stop_sequences=()))
    )
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive() and time.monotonic() - started < 60


def _cell(version: int, case_id: str) -> ComparisonCellRecord:
    return ComparisonCellRecord(version=version, case_id=case_id, run_id=None, prompt=None, outcome_likelihoods={},
                                samples=(), agreement=None, error="rendering failed")


def test_cells_are_stored_as_they_arrive_once_each_and_read_back_in_matrix_order(mini_store):
    started = mini_store.start_comparison(
        family="mini", versions=[1, 2], cases=mini_store.get_family(name="mini").cases, model="m", settings={},
        created_by="ada",
    )
    mini_store.add_comparison_cells(started.id, [_cell(2, "bread")])
    mini_store.add_comparison_cells(started.id, [_cell(1, "bread"), _cell(2, "soup")])
    for again in ([_cell(2, "soup")], [_cell(1, "soup"), _cell(1, "soup")]):
        with pytest.raises(StoreError, match="stored already; no cell is stored twice"):
            mini_store.add_comparison_cells(started.id, again)
    with pytest.raises(StoreError, match="v2 × 'bread' stored already"):
        mini_store.finish_comparison(started.id, cells=[_cell(1, "soup"), _cell(2, "bread")])
    assert len(mini_store.get_comparison(started.id).cells) == 3  # a refused call stores none of its cells
    finished = mini_store.finish_comparison(started.id, cells=[_cell(1, "soup")])
    assert [(c.version, c.case_id) for c in finished.cells] == [(1, "soup"), (1, "bread"), (2, "soup"), (2, "bread")]
    with pytest.raises(StoreError, match="finished already"):
        mini_store.add_comparison_cells(started.id, [_cell(1, "soup")])


def test_a_stopped_comparison_resumes_to_what_an_uninterrupted_one_gives(mini_store, tiny_gemma3):
    from promptkit.evaluation.matrix import LocalEngine
    from promptkit.workflows import resume_comparison

    request = ComparisonRequest(family="mini", versions=[1, 2], samples=1, batch_size=1)
    scorer = ContinuationScorer(tiny_gemma3, batch_size=1)
    whole = run_comparison(mini_store, tiny_gemma3, request, actor="ada", scorer=scorer)

    def stop_in_the_third_cell(done: float, total: int) -> None:
        if done > 6:  # each cell is 3 units: its completion, its sample, its scoring
            raise _Stopped

    with pytest.raises(_Stopped):
        run_comparison(mini_store, tiny_gemma3, request, actor="ada", scorer=scorer, progress=stop_in_the_third_cell)
    stopped = mini_store.list_comparisons()[0]
    assert stopped.finished_at is None and len(mini_store.get_comparison(stopped.id).cells) == 2
    with pytest.raises(PromptkitError, match=rf"2 of 4 cells stored\). Finish it with .*compare --resume {stopped.id}"):
        load_comparison(mini_store, stopped.id)

    steps: list[tuple[float, int]] = []
    resumed = resume_comparison(
        mini_store, LocalEngine(tiny_gemma3, scorer), stopped.id, actor="ada", progress=lambda *step: steps.append(step)
    )
    assert steps[0] == (0, 6) and steps[-1] == (6, 6)  # only the two missing cells ran
    assert resumed.result.to_json() == whole.result.to_json()
    assert load_comparison(mini_store, stopped.id).result.to_json() == whole.result.to_json()
    keys = [(cell.version, cell.case_id) for cell in resumed.record.cells]
    assert len(keys) == len(set(keys)) == 4 and all(cell.run_id is not None for cell in resumed.record.cells)
    with pytest.raises(PromptkitError, match="finished already"):
        resume_comparison(mini_store, LocalEngine(tiny_gemma3, scorer), stopped.id, actor="ada")


class _OtherModel:
    """An engine with another model than the comparison's: resuming with it must not run anything."""

    model_name = "tiny:gemma1"
    scores = True

    def run(self, job, batches, *, on_batch, advance):
        raise AssertionError("nothing runs with another model")


def test_a_comparison_resumes_only_with_its_own_model_and_scorer(mini_store, tiny_gemma3):
    from promptkit.evaluation.matrix import LocalEngine
    from promptkit.workflows import resume_comparison

    started = mini_store.start_comparison(
        family="mini", versions=[1, 2], cases=mini_store.get_family(name="mini").cases, model="tiny:gemma3",
        settings={"samples": 0, "batch_size": 8, "max_new_tokens": None, "outcome_likelihoods": True},
        created_by="ada",
    )
    with pytest.raises(PromptkitError, match="was run with tiny:gemma3; resume it with that model"):
        resume_comparison(mini_store, _OtherModel(), started.id, actor="ada")
    with pytest.raises(PromptkitError, match="measured outcome likelihoods; resume it with a scorer"):
        resume_comparison(mini_store, LocalEngine(tiny_gemma3), started.id, actor="ada")
    assert mini_store.get_comparison(started.id).cells == ()

"""The explanation workflow: computed once, kept with the run, re-opened and regrouped without the model; links; Stop."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from promptkit.errors import SalienceError
from promptkit.generation import Completion, GenerationSettings, StopReason
from promptkit.people import PermissionDenied
from promptkit.salience import ROWS_PER_PASS, CharRange, LinePrefix, SalienceEngine
from promptkit.store import RunRecord, Store
from promptkit.workflows.explain import (
    SPAN_VIEW,
    TOKENS_VIEW,
    ExplanationLink,
    ExplanationNotStored,
    ExplanationStopped,
    SpanRequest,
    explain_run,
    explain_run_tokens,
    explain_text,
    explain_tokens,
    matrix_params,
    open_linked_run,
)

COMPLETION = " Avoid, it has eggs and cream.\nRecommendation: Avoid."


def _run(store: Store) -> RunRecord:
    return store.add_run(
        family="mini", version=1, model="tiny:gemma3", values={"dish": "Quiche"}, settings=GenerationSettings(),
        completion=Completion("Suggestion: Quiche\nRecommendation:", COMPLETION, (), StopReason.STOP_SEQUENCE, {}),
        case_id=None, created_by="ada",
    )


def test_a_span_explained_once_is_reopened_from_the_store_without_the_model(mini_store, tiny_gemma3):
    run = _run(mini_store)
    engine = SalienceEngine(tiny_gemma3)
    request = SpanRequest(method="grad_dot_input", selection=LinePrefix("Recommendation:"), contrast=" Likely good.")
    computed = explain_run(mini_store, engine, run, request, actor="ada")
    assert engine.gradient_calls == 2  # the span's sequence and the contrast's
    assert computed.params == {"contrast": " Likely good."}
    start, end = (offset - len(run.prompt) for offset in computed.target_span)
    assert COMPLETION[start:end].strip() == "Avoid."

    again = explain_run(mini_store, SalienceEngine(tiny_gemma3), run, request, actor="ada")  # a new engine: no cache
    stored = explain_run(mini_store, None, run, SpanRequest("grad_dot_input", CharRange(start, end), " Likely good."),
                         actor="ada")
    for reopened in (again, stored):
        np.testing.assert_allclose(reopened.scores, computed.scores)
        assert (reopened.target_span, reopened.params, reopened.loss) == (computed.target_span, computed.params, computed.loss)
        for granularity in ("words", "lines", "tokens"):
            np.testing.assert_allclose(reopened.segments(granularity).scores, computed.segments(granularity).scores)
    # Without the contrast it is another explanation, not stored yet.
    with pytest.raises(ExplanationNotStored, match="not stored yet"):
        explain_run(mini_store, None, run, SpanRequest("grad_dot_input", CharRange(start, end)), actor="ada")


def test_occlusion_and_reference_texts_are_computed_not_kept(mini_store, tiny_gemma3):
    run = _run(mini_store)
    engine = SalienceEngine(tiny_gemma3)
    explain_run(mini_store, engine, run, SpanRequest(method="occlusion", granularity="lines"), actor="ada")
    explain_run(mini_store, engine, run, SpanRequest(), actor="ada", target=" Likely good.")
    assert mini_store.list_salience(run_ids=[run.id]) == []


def test_a_token_matrix_is_kept_with_its_run_and_regrouped_without_the_model(mini_store, tiny_gemma3):
    run = _run(mini_store)
    engine = SalienceEngine(tiny_gemma3)
    computed = explain_run_tokens(mini_store, engine, run, method="grad_l2", params={}, actor="ada")
    calls = engine.gradient_calls
    assert calls == -(-len(computed.steps) // ROWS_PER_PASS)
    reopened = explain_run_tokens(mini_store, None, run, method="grad_l2", params={}, actor="ada")
    fresh_engine = SalienceEngine(tiny_gemma3)
    assert explain_run_tokens(mini_store, fresh_engine, run, method="grad_l2", params={}, actor="ada").steps == computed.steps
    assert fresh_engine.gradient_calls == 0  # its model's stored matrix
    np.testing.assert_array_equal(reopened.values, computed.values)  # NaN where absent, too
    assert (reopened.tokens, reopened.steps, reopened.prompt_tokens) == (computed.tokens, computed.steps, computed.prompt_tokens)
    for columns, rows, how in (("words", "tokens", "sum"), ("lines", "words", "max"), ("sentences", "lines", "mean")):
        ours, theirs = (m.segments(columns, rows=rows, aggregation=how, row_aggregation=how) for m in (reopened, computed))
        np.testing.assert_array_equal(ours.values, theirs.values)
        assert ours.rows == theirs.rows and ours.row_scores == theirs.row_scores
    [record] = mini_store.list_token_matrices(run_ids=[run.id])
    assert (record.model, record.method, record.params, record.created_by) == ("tiny:gemma3", "grad_l2", {}, "ada")
    attention = matrix_params("attention", layers="0", heads="max")
    with pytest.raises(ExplanationNotStored, match="not stored yet"):
        explain_run_tokens(mini_store, None, run, method="attention", params=attention, actor="ada")


def test_a_stop_mid_matrix_frees_the_model_at_once_and_keeps_the_rows_done(tiny_gemma3):
    engine = SalienceEngine(tiny_gemma3)
    rows = len(tiny_gemma3.tokenize(COMPLETION))
    assert rows > 2 * ROWS_PER_PASS
    free_at_stop = []

    def stop_after_first_block() -> bool:
        return True

    def progress(done: int, total: int) -> None:
        free_at_stop.append(_free_in_another_thread(tiny_gemma3.lock))

    with pytest.raises(ExplanationStopped, match=f"after {ROWS_PER_PASS} of {rows} tokens"):
        explain_tokens(engine, "Quiche:", COMPLETION, method="grad_l2", params={}, on_progress=progress,
                       should_stop=stop_after_first_block)
    assert free_at_stop == [True]  # the stop came between blocks, with no backend call holding the model
    assert _free_in_another_thread(tiny_gemma3.lock)
    assert engine.gradient_calls == 1
    resumed = explain_tokens(engine, "Quiche:", COMPLETION, method="grad_l2", params={})
    assert engine.gradient_calls == -(-rows // ROWS_PER_PASS)  # only the rows not done before the stop
    whole = SalienceEngine(tiny_gemma3).token_matrix("Quiche:", COMPLETION, method="grad_l2")
    np.testing.assert_allclose(resumed.values, whole.values, rtol=1e-5, atol=1e-7)


def _free_in_another_thread(lock) -> bool:
    """Whether another thread gets the model's lock without waiting."""
    got = []

    def take() -> None:
        acquired = lock.acquire(blocking=False)
        got.append(acquired)
        if acquired:
            lock.release()

    thread = threading.Thread(target=take)
    thread.start()
    thread.join()
    return got[0]


def test_only_people_allowed_to_see_runs_get_their_explanations(mini_store, tiny_gemma3):
    run = _run(mini_store)
    link = ExplanationLink(run.id, TOKENS_VIEW, "grad_l2", "words", "sum")
    for job in (
        lambda: explain_run(mini_store, SalienceEngine(tiny_gemma3), run, SpanRequest(), actor="stranger"),
        lambda: explain_run_tokens(mini_store, None, run, method="grad_l2", params={}, actor="stranger"),
        lambda: open_linked_run(mini_store, link, actor="stranger"),
    ):
        with pytest.raises(PermissionDenied, match="viewer role"):
            job()
    assert mini_store.list_salience(run_ids=[run.id]) == []


def test_a_link_reads_back_what_it_was_written_from():
    links = [
        ExplanationLink(3, SPAN_VIEW, "grad_l2", "parts", "sum", span=(1, 7), contrast="Avoid & more?"),
        ExplanationLink(3, SPAN_VIEW, "occlusion", "custom", "sum", span=(0, 9), pattern=r"\n+"),
        ExplanationLink(4, TOKENS_VIEW, "attention", "words", "max", rows="lines", layers="2-5", heads="max"),
        ExplanationLink(4, TOKENS_VIEW, "integrated_gradients", "sentences", "mean"),
    ]
    for link in links:
        assert ExplanationLink.parse(link.query()) == link
    assert links[2].matrix_params == {"layers": "2-5", "heads": "max"}


@pytest.mark.parametrize(
    ("query", "phrase"),
    [
        ({"run": "x1"}, "not a run number"),
        ({"run": "²"}, "not a run number"),  # a digit to str.isdigit, not to int()
        ({"view": "movie"}, "view is 'movie'"),
        ({"method": "magic"}, "method is 'magic'"),
        ({"method": "attention"}, "method is 'attention'"),  # attention explains no span on its own
        ({"granularity": "chapters"}, "granularity is 'chapters'"),
        ({"aggregation": "median"}, "aggregation is 'median'"),
        ({"span": "9-3"}, "START < END"),
        ({"span": "-1-3"}, "START < END"),
        ({"span": "a-b"}, "START < END"),
        ({"contrast": "  "}, "explains against"),
        ({"method": "integrated_gradients", "contrast": "No."}, "explains against"),
        ({"pattern": "x"}, "pattern without the custom"),
        ({"granularity": "custom", "pattern": "("}, "not a regular expression"),
    ],
)
def test_a_tampered_span_link_is_refused_saying_which_parameter(query, phrase):
    good = {"run": "3", "view": SPAN_VIEW, "method": "grad_l2", "span": "1-7", "granularity": "words", "aggregation": "sum"}
    with pytest.raises(SalienceError, match=phrase):
        ExplanationLink.parse({**good, **query})


@pytest.mark.parametrize(
    ("query", "phrase"),
    [({"layers": "all;drop"}, "layers are"), ({"layers": "1-"}, "layers are"), ({"heads": "min"}, "heads is 'min'"),
     ({"rows": "pages"}, "rows is 'pages'"), ({"method": "occlusion"}, "method is 'occlusion'")],
)
def test_a_tampered_token_link_is_refused_saying_which_parameter(query, phrase):
    good = {"run": "3", "view": TOKENS_VIEW, "method": "attention", "granularity": "words", "aggregation": "sum"}
    with pytest.raises(SalienceError, match=phrase):
        ExplanationLink.parse({**good, **query})


def test_a_link_must_fit_its_run(mini_store):
    run = _run(mini_store)
    beyond = ExplanationLink(run.id, SPAN_VIEW, "grad_l2", "words", "sum", span=(3, len(COMPLETION) + 1))
    with pytest.raises(SalienceError, match=f"whose answer has {len(COMPLETION)}"):
        open_linked_run(mini_store, beyond, actor="ada")
    assert open_linked_run(mini_store, ExplanationLink(run.id, SPAN_VIEW, "grad_l2", "words", "sum", span=(0, 3)),
                           actor="ada") == run
    with pytest.raises(Exception, match=f"no run {run.id + 1}"):
        open_linked_run(mini_store, ExplanationLink(run.id + 1, TOKENS_VIEW, "grad_l2", "words", "sum"), actor="ada")


def test_the_text_jobs_are_the_engines(tiny_gemma3):
    engine = SalienceEngine(tiny_gemma3)
    result = explain_text(engine, "Quiche:", COMPLETION, SpanRequest(method="grad_l2", selection=LinePrefix("Recommendation:")))
    assert result is engine.explain("Quiche:", COMPLETION, selection=LinePrefix("Recommendation:"))
    with pytest.raises(SalienceError, match="Contrastive salience works with"):
        explain_text(engine, "Quiche:", COMPLETION, SpanRequest(method="integrated_gradients", contrast=" No."))
    with pytest.raises(SalienceError, match="attention weights"):
        matrix_params("grad_l2", layers="1")

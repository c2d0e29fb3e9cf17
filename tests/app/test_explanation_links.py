"""Salience links: a view's link re-opens exactly that view from the store, without the model; bad links say only why."""

from __future__ import annotations

import json

import pytest
from apphelpers import APP, button, no_errors, open_page
from streamlit.testing.v1 import AppTest

from dashboard import model_sidebar
from dashboard.state import KEY_SALIENCE_RUN
from promptkit.generation import Completion, GenerationSettings, StopReason
from promptkit.people import AccessPolicy
from promptkit.store import Store
from promptkit.templates import default_templates_dir, render_template

SALIENCE = "dashboard/views/salience.py"
COMPLETION = " Avoid.\nBecause of the eggs."


def _seed() -> int:
    with Store.open() as store:
        store.import_library(templates_dir=default_templates_dir())
        family = store.get_family(name="tiny-menu")
        case, version = family.cases[0], family.versions[0]
        run = store.add_run(
            family="tiny-menu", version=version.number, model="tiny:gemma3", values=case.values,
            completion=Completion(render_template(version.text, case.values).text, COMPLETION, (), StopReason.STOP_SEQUENCE, {}),
            settings=GenerationSettings(), case_id=case.id,
        )
        return run.id


@pytest.fixture(autouse=True)
def _forget_explanations():
    """Empties the shared engines' caches afterwards, so later page tests that count model calls start cold."""
    yield
    for engine in model_sidebar._registry().salience_engines():
        engine.clear_cache()


def _engine():
    (engine,) = model_sidebar._registry().salience_engines()
    return engine


def _open_link(query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    for name, value in query.items():
        at.query_params[name] = value
    at.switch_page(SALIENCE)
    return at.run()


def _query(at: AppTest) -> dict[str, str]:
    return {name: str(value) for name, value in at.query_params.items()}


def _salience_text(at: AppTest) -> list[str]:
    """The explained texts the page shows (HTML, one per heatmap)."""
    return [item.proto.body for item in at.get("html") if 'class="pk-salience-text"' in item.proto.body]


def _spec(at: AppTest, index: int) -> dict:
    return json.loads(at.get("plotly_chart")[index].proto.spec)


def test_a_span_explanations_link_opens_it_from_the_store_without_running_the_model(small_library):
    run_id = _seed()
    at = open_page(SALIENCE, state={KEY_SALIENCE_RUN: run_id})
    at.selectbox(key="pk_sal_method").set_value("grad_dot_input").run()
    at.selectbox(key=f"pk_sal_line::{run_id}").set_value("Because of the eggs.").run()
    at.text_input(key="pk_sal_contrast").set_value(" Likely good.").run()
    at.selectbox(key="pk_sal_granularity").set_value("words").run()
    at.selectbox(key="pk_sal_aggregation").set_value("max").run()
    no_errors(at)
    query = _query(at)
    assert query["run"] == str(run_id) and query["view"] == "span" and query["method"] == "grad_dot_input"
    assert (query["contrast"], query["granularity"], query["aggregation"]) == (" Likely good.", "words", "max")
    assert any("?run=" in item.value and "contrast=%20Likely%20good." in item.value for item in at.code)  # Copy link
    heatmap = _spec(at, 0)
    engine = _engine()
    engine.clear_cache()  # only the store can give it back now
    calls = engine.gradient_calls

    opened = _open_link(query)
    no_errors(opened)
    assert engine.gradient_calls == calls, "a link opens the stored explanation; it never reaches the model"
    assert opened.selectbox(key="pk_sal_run").value == run_id
    assert opened.selectbox(key="pk_sal_method").value == "grad_dot_input"
    assert opened.selectbox(key=f"pk_sal_line::{run_id}").value == "Because of the eggs."
    assert opened.text_input(key="pk_sal_contrast").value == " Likely good."
    assert opened.selectbox(key="pk_sal_aggregation").value == "max"
    assert _spec(opened, 0) == heatmap  # exactly the view the link was copied from
    assert _query(opened) == query

    # Words picked in the answer come back as the same words.
    at.radio(key="pk_sal_target_kind").set_value("Words I pick in the completion").run()
    at.select_slider(key=f"pk_sal_words::{run_id}").set_range("3: of", "4: the").run()
    no_errors(at)
    words_query = _query(at)
    opened = _open_link(words_query)
    no_errors(opened)
    assert opened.radio(key="pk_sal_target_kind").value == "Words I pick in the completion"
    assert tuple(opened.select_slider(key=f"pk_sal_words::{run_id}").value) == ("3: of", "4: the")
    assert _query(opened) == words_query


def test_a_token_by_token_link_opens_the_stored_matrix_regrouped_as_it_was(small_library):
    run_id = _seed()
    at = open_page(SALIENCE, state={KEY_SALIENCE_RUN: run_id})
    at.radio(key="pk_sal_view").set_value("Token by token").run()
    at.selectbox(key="pk_tm_granularity").set_value("lines").run()
    at.selectbox(key="pk_tm_rows").set_value("words").run()
    at.selectbox(key="pk_tm_aggregation").set_value("max").run()
    no_errors(at)
    query = _query(at)
    assert query == {"run": str(run_id), "view": "tokens", "method": "grad_l2", "granularity": "lines", "rows": "words",
                     "aggregation": "max"}
    matrix = _spec(at, 0)
    engine = _engine()
    engine.clear_cache()
    calls = engine.gradient_calls

    opened = _open_link(query)
    no_errors(opened)
    assert engine.gradient_calls == calls
    assert opened.radio(key="pk_sal_view").value == "Token by token"
    assert _spec(opened, 0) == matrix

    # Attention: the link holds its layer and head aggregation, and the weights come from the store.
    opened.selectbox(key="pk_tm_method").set_value("attention").run()
    opened.radio(key="pk_tm_layer_kind").set_value("One layer").run()
    opened.slider(key="pk_tm_layer").set_value(0).run()
    opened.selectbox(key="pk_tm_heads").set_value("max").run()
    no_errors(opened)
    attention_query = _query(opened)
    assert (attention_query["layers"], attention_query["heads"]) == ("0", "max")
    attention = _spec(opened, 0)
    engine.clear_cache()
    reads = []
    reader = engine.attention
    original = reader.read
    reader.read = lambda *args: reads.append(args) or original(*args)
    try:
        again = _open_link(attention_query)
    finally:
        reader.read = original
    no_errors(again)
    assert reads == [] and _spec(again, 0) == attention
    assert (again.radio(key="pk_tm_layer_kind").value, again.slider(key="pk_tm_layer").value) == ("One layer", 0)


def test_with_no_model_loaded_a_link_still_opens_its_stored_explanations(small_library, monkeypatch):
    run_id = _seed()
    at = open_page(SALIENCE, state={KEY_SALIENCE_RUN: run_id})
    at.selectbox(key=f"pk_sal_line::{run_id}").set_value("Because of the eggs.").run()
    span_query, text, bars = _query(at), _salience_text(at), _spec(at, 0)
    at.radio(key="pk_sal_view").set_value("Token by token").run()
    no_errors(at)
    tokens_query, matrix = _query(at), _spec(at, 0)
    monkeypatch.setattr(model_sidebar, "get_model", lambda: None)  # as when no model could be loaded

    opened = _open_link(span_query)
    no_errors(opened)
    assert (_salience_text(opened), _spec(opened, 0)) == (text, bars)
    assert any("No model is loaded: this is the explanation stored for the link" in item.value for item in opened.caption)
    opened.selectbox(key="pk_sal_method").set_value("grad_dot_input").run()  # another explanation: not stored
    assert not opened.exception and "not stored yet" in opened.error[0].value
    opened = _open_link(tokens_query)
    no_errors(opened)
    assert _spec(opened, 0) == matrix
    opened.selectbox(key="pk_tm_granularity").set_value("sentences").run()  # regrouped from the store
    no_errors(opened)
    assert len(opened.get("plotly_chart")) == 2  # the matrix, and the clicked row's top pieces
    assert _salience_text(opened)  # the clicked row over the prompt's text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"run": "999"}, "there is no run 999"),
        ({"run": "1 OR 1=1"}, "not a run number"),
        ({"method": "magic"}, "method is 'magic'"),
        ({"span": "3-9999"}, "whose answer has 28"),
        ({"span": "9-3"}, "START < END"),
        ({"aggregation": "1e9"}, "aggregation is '1e9'"),
        ({"view": "tokens", "method": "attention", "layers": "99"}, "are not layers 0"),
        ({"view": "tokens", "method": "attention", "heads": "min"}, "heads is 'min'"),
    ],
)
def test_a_bad_link_says_what_is_wrong_and_shows_nothing_else(small_library, change, message):
    run_id = _seed()
    query = {"run": str(run_id), "view": "span", "method": "grad_l2", "span": "8-28", "granularity": "words",
             "aggregation": "sum", **change}
    at = _open_link(query)
    assert not at.exception
    assert len(at.error) == 1 and message in at.error[0].value
    assert not at.get("plotly_chart") and not at.main.selectbox and not at.main.code  # nothing of any run shown


def test_a_visitor_not_signed_in_gets_nothing_of_a_linked_explanation(small_library, monkeypatch):
    run_id = _seed()
    monkeypatch.setenv("PROMPTKIT_MODE", "team")
    at = AppTest.from_file(APP, default_timeout=300)
    at.user = {"is_logged_in": False}
    for name, value in {"run": str(run_id), "view": "span", "method": "grad_l2", "span": "8-28",
                        "granularity": "words", "aggregation": "sum"}.items():
        at.query_params[name] = value
    at.switch_page(SALIENCE)
    at.run()
    assert [item.label for item in at.button] == ["Sign in"]
    assert not at.get("plotly_chart") and not at.selectbox and "eggs" not in str([item.value for item in at.get("markdown")])


@pytest.mark.parametrize("page", ["playground", "history", "compare"])
def test_token_by_token_opens_from_playground_history_and_compare(small_library, page):
    if page == "playground":
        at = open_page("dashboard/views/playground.py")
        button(at, "Generate").click()
        at.run()
    elif page == "history":
        _seed()
        at = open_page("dashboard/views/history.py")
    else:
        at = open_page("dashboard/views/compare.py")
        button(at, "Run comparison").click()
        at.run()
    no_errors(at)
    buttons = [item for item in at.button if item.label == "Explain token by token"]
    assert buttons, f"no token-by-token button on {page}"
    version = int(buttons[-1].key.split("::")[1]) if page == "compare" else None
    buttons[-1].click()
    at.run()
    no_errors(at)
    assert at.radio(key="pk_sal_view").value == "Token by token"
    assert [trace["type"] for trace in _spec(at, 0)["data"]] == ["heatmap", "bar"]
    assert at.query_params["view"] == "tokens"
    if version is not None:  # the clicked cell's run
        with Store.open() as store:
            (run,) = store.list_runs(family="tiny-menu", version=version)
        assert int(at.query_params["run"]) == run.id


def test_historys_report_download_can_include_the_stored_matrices(small_library, tiny_gemma3):
    from promptkit.salience import SalienceEngine
    from promptkit.workflows import comparison_report, run_comparison
    from promptkit.workflows.compare import ComparisonRequest
    from promptkit.workflows.explain import explain_run_tokens

    with Store.open() as store:
        store.import_library(templates_dir=default_templates_dir())
        store.arrive(key="ada", name="ada", policy=AccessPolicy())
        stored = run_comparison(store, tiny_gemma3, ComparisonRequest(family="tiny-menu", versions=[1, 2], max_new_tokens=3),
                                actor="ada")
        run = store.get_run(run_id=stored.record.cells[0].run_id)
        explain_run_tokens(store, SalienceEngine(tiny_gemma3), run, method="grad_l2", params={}, actor="ada")
    at = open_page("dashboard/views/history.py")
    no_errors(at)
    box = at.checkbox(key="pk_report_matrices")
    assert box.value is False
    box.check().run()
    no_errors(at)
    assert [item.label for item in at.get("download_button")] == ["Download report (HTML)"]
    with Store.open() as store:  # what the download holds: the one report builder, with the matrices
        assert 'id="token-matrices"' in comparison_report(store, stored.record.id, actor="ada", with_matrices=True)

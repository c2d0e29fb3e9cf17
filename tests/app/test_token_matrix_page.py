"""Salience page, "Token by token" view: the matrix renders with the tiny model; regrouping it never recomputes."""

from __future__ import annotations

import json

from apphelpers import no_errors, open_page

from dashboard import model_sidebar
from dashboard.state import KEY_SALIENCE_RUN
from promptkit.generation import Completion, GenerationSettings, StopReason
from promptkit.store import Store
from promptkit.templates import default_templates_dir, render_template

SALIENCE = "dashboard/views/salience.py"
COMPLETION = " Avoid.\nBecause of the eggs."


def _seed() -> int:
    """Stores one run of the small family's first version; returns its id."""
    with Store.open() as store:
        store.import_library(templates_dir=default_templates_dir())
        family = store.get_family(name="tiny-menu")
        case, version = family.cases[0], family.versions[0]
        run = store.add_run(
            family="tiny-menu",
            version=version.number,
            model="tiny:gemma3",
            completion=Completion(
                render_template(version.text, case.values).text, COMPLETION, (), StopReason.STOP_SEQUENCE, {}
            ),
            values=case.values,
            settings=GenerationSettings(),
            case_id=case.id,
        )
        return run.id


def _engine_calls() -> int:
    return sum(engine.gradient_calls for engine in model_sidebar._registry().salience_engines())


def test_the_token_by_token_view_renders_and_regroups_from_the_cache(small_library):
    run_id = _seed()
    at = open_page(SALIENCE, state={KEY_SALIENCE_RUN: run_id})
    no_errors(at)
    at.radio(key="pk_sal_view").set_value("Token by token").run()
    no_errors(at)
    assert at.selectbox(key="pk_tm_method").value == "grad_l2"
    charts = at.get("plotly_chart")
    assert len(charts) == 2  # the matrix, the picked row's top pieces
    assert sum('class="pk-salience-text"' in item.proto.body for item in at.get("html")) == 1  # the row over the text
    figure = json.loads(charts[0].proto.spec)
    assert [trace["type"] for trace in figure["data"]] == ["heatmap", "bar"]
    rows = at.selectbox(key="pk_tm_row")
    assert len(rows.options) == len(figure["data"][1]["x"]) >= 5
    labels = [button.label for button in at.get("download_button")]
    assert labels == ["Download the matrix (CSV)", "Download the matrix (JSON)"]
    calls = _engine_calls()
    assert calls >= 1

    for granularity in ("tokens", "sentences", "lines", "parts"):
        at.selectbox(key="pk_tm_granularity").set_value(granularity).run()
        no_errors(at)
    at.selectbox(key="pk_tm_rows").set_value("words").run()
    at.selectbox(key="pk_tm_aggregation").set_value("max").run()
    at.selectbox(key="pk_tm_row").set_value(1).run()
    no_errors(at)
    assert _engine_calls() == calls, "regrouping the matrix must reuse the cached one"
    assert "p = " in at.selectbox(key="pk_tm_row").format_func(1)

    at.selectbox(key="pk_tm_method").set_value("attention").run()
    no_errors(at)
    at.radio(key="pk_tm_layer_kind").set_value("One layer").run()
    at.selectbox(key="pk_tm_heads").set_value("max").run()
    no_errors(at)
    assert _engine_calls() == calls  # attention reads no gradients
    assert any("attention" in caption.value for caption in at.caption)

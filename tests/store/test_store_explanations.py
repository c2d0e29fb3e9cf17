"""Explanations kept with their runs, on both backends: span salience keyed by contrast and parameters, token matrices."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

from promptkit.errors import StoreError
from promptkit.generation import Completion, GenerationSettings, StopReason
from promptkit.store import Store

MIGRATIONS = Path(__file__).parents[2] / "promptkit" / "store" / "migrations"
IG_DEFAULTS = {"steps": 16, "batch_size": 8, "baseline": "zero"}
MATRIX = {"model": "tiny", "values": [[0.5, None], [0.25, 0.125]], "note": "ünïcödé"}


@pytest.fixture
def run_id(store: Store) -> int:
    store.add_family(name="demo")
    store.add_version(family="demo", text="Q: {{ q }}\nA:", author="ann", note="")
    run = store.add_run(
        family="demo", version=1, model="tiny", values={"q": "why"}, settings=GenerationSettings(),
        completion=Completion("Q: why\nA:", " Because.", (), StopReason.STOP_SEQUENCE, {}),
    )
    return run.id


def test_a_span_explained_against_a_contrast_or_with_other_parameters_is_another_explanation(store: Store, run_id: int) -> None:
    span = {"run_id": run_id, "target_start": 0, "target_end": 9}
    plain = store.put_salience(**span, method="grad_l2", scores=[1.0], model="tiny", loss=2.5, details={})
    rather = store.put_salience(**span, method="grad_l2", scores=[2.0], contrast=" Avoid.", model="tiny")
    ig = store.put_salience(**span, method="integrated_gradients", scores=[3.0], params=IG_DEFAULTS)
    finer = store.put_salience(
        **span, method="integrated_gradients", scores=[4.0], params={**IG_DEFAULTS, "steps": 64},
        details={"completeness_error": 0.01},
    )
    assert [record.scores for record in (plain, rather, ig, finer)] == [[1.0], [2.0], [3.0], [4.0]]
    assert store.get_salience(**span, method="grad_l2").scores == [1.0]
    assert store.get_salience(**span, method="grad_l2", contrast=" Avoid.").scores == [2.0]
    assert store.get_salience(**span, method="grad_l2", contrast=" Other.") is None
    # Parameters match by value, whatever order they were given in.
    assert store.get_salience(**span, method="integrated_gradients", params=dict(reversed(IG_DEFAULTS.items()))).scores == [3.0]
    kept = store.get_salience(**span, method="integrated_gradients", params={**IG_DEFAULTS, "steps": 64})
    assert kept.params == {**IG_DEFAULTS, "steps": 64} and kept.details == {"completeness_error": 0.01}
    assert (plain.model, plain.loss, plain.contrast, rather.contrast) == ("tiny", 2.5, None, " Avoid.")
    # Stored once: a second put gives the first back.
    assert store.put_salience(**span, method="grad_l2", scores=[9.0], contrast=" Avoid.", model="tiny").scores == [2.0]
    assert len(store.list_salience(run_ids=[run_id])) == 4


def test_another_models_explanation_of_the_same_span_is_kept_beside_it(store: Store, run_id: int) -> None:
    span = {"run_id": run_id, "target_start": 0, "target_end": 9, "method": "grad_l2"}
    first = store.put_salience(**span, scores=[1.0], model="model-a")
    second = store.put_salience(**span, scores=[2.0], model="model-b")
    assert (first.scores, second.scores) == ([1.0], [2.0])
    assert store.get_salience(**span, model="model-b").scores == [2.0]
    assert store.get_salience(**span, model="model-c") is None
    assert store.get_salience(**span).scores == [1.0]  # any model: the one stored first


@pytest.mark.parametrize(
    ("overrides", "phrase"),
    [
        ({"contrast": ""}, "contrast is a text"),
        ({"params": {"steps": float("nan")}}, "parameters cannot be stored"),
        ({"details": {"error": float("inf")}}, "details cannot be stored"),
        ({"scores": [float("nan")]}, "scores cannot be stored"),
    ],
)
def test_bad_salience_is_refused_and_leaves_nothing(store: Store, run_id: int, overrides, phrase) -> None:
    values = {"run_id": run_id, "target_start": 0, "target_end": 9, "method": "grad_l2", "scores": [1.0], **overrides}
    with pytest.raises(StoreError, match=phrase):
        store.put_salience(**values)
    assert store.list_salience(run_ids=[run_id]) == []


def test_a_token_matrix_is_kept_once_per_model_method_and_parameters(store: Store, run_id: int) -> None:
    attention = {"layers": "all", "heads": "mean"}
    first = store.put_token_matrix(
        run_id=run_id, model="tiny", method="attention", params=attention, matrix=MATRIX, created_by="ada"
    )
    assert first.matrix == MATRIX and first.params == attention and first.created_by == "ada"
    assert store.put_token_matrix(run_id=run_id, model="tiny", method="attention", params=attention, matrix={}) == first
    other = store.put_token_matrix(
        run_id=run_id, model="tiny", method="attention", params={"layers": "1", "heads": "max"}, matrix={"x": 1}
    )
    by_model = store.put_token_matrix(run_id=run_id, model="other", method="grad_l2", params={}, matrix={"y": 2})
    assert store.get_token_matrix(run_id=run_id, model="tiny", method="attention", params=attention) == first
    assert store.get_token_matrix(run_id=run_id, model="tiny", method="attention", params={"layers": "0"}) is None
    assert store.get_token_matrix(run_id=run_id, model="tiny", method="grad_l2") is None
    assert [record.id for record in store.list_token_matrices(run_ids=[run_id])] == [first.id, other.id, by_model.id]
    assert store.list_token_matrices(run_ids=[run_id + 1]) == []


def test_a_bad_token_matrix_is_refused_and_leaves_nothing(store: Store, run_id: int) -> None:
    with pytest.raises(StoreError, match="no run 999"):
        store.put_token_matrix(run_id=999, model="tiny", method="grad_l2", params={}, matrix=MATRIX)
    with pytest.raises(StoreError, match="token matrix cannot be stored"):
        store.put_token_matrix(run_id=run_id, model="tiny", method="grad_l2", params={}, matrix={"v": [float("nan")]})
    assert store.list_token_matrices(run_ids=[run_id, 999]) == []


def test_salience_stored_before_its_key_had_contrast_and_parameters_is_kept(store_url: str) -> None:
    engine = create_engine(store_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    when = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0004")
        connection.execute(text("INSERT INTO families (id, name, description, candidate_labels, created_at) "
                                "VALUES (1, 'demo', '', '[]', :when)"), {"when": when})
        connection.execute(text("INSERT INTO versions (id, family_id, number, text, author, note, generation, created_at) "
                                "VALUES (1, 1, 1, 'Q:', 'ann', '', '{}', :when)"), {"when": when})
        connection.execute(text("INSERT INTO runs (id, version_id, prompt, model, variables, generation, completion, "
                                "tokens, timings, created_by, created_at) VALUES (1, 1, 'Q:', 'tiny', '{}', '{}', ' A.', "
                                "'[]', '{}', '', :when)"), {"when": when})
        for method, scores in (("grad_l2", "[1.0]"), ("integrated_gradients", "[2.0]")):
            connection.execute(text("INSERT INTO salience (run_id, target_start, target_end, method, scores, created_at) "
                                    "VALUES (1, 0, 3, :method, :scores, :when)"),
                               {"method": method, "scores": scores, "when": when})
    engine.dispose()
    with Store.open(url=store_url) as store:  # opening migrates to the newest revision
        span = {"run_id": 1, "target_start": 0, "target_end": 3}
        old = store.get_salience(**span, method="grad_l2", model="tiny")  # computed, it is taken, by the run's model
        assert (old.scores, old.contrast, old.params, old.loss, old.model) == ([1.0], None, {}, None, "tiny")
        assert store.get_salience(**span, method="integrated_gradients", params=IG_DEFAULTS).scores == [2.0]
        store.put_salience(**span, method="grad_l2", scores=[5.0], contrast=" B.")
        assert len(store.list_salience(run_ids=[1])) == 3

"""Store API on both backends: versions, runs, salience, reviews, atomic writes."""

from __future__ import annotations

import dataclasses
import math

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text, update

from promptkit.errors import StoreError, TemplateError
from promptkit.generation import Completion, GeneratedToken, GenerationSettings, StopReason
from promptkit.store import Store, resolve_url
from promptkit.store.schema import Base, RunRow
from promptkit.templates import GenerationDefaults


@pytest.fixture
def family(store: Store) -> str:
    store.add_family(name="demo", candidate_labels=("Yes", "No"))
    store.add_version(
        family="demo",
        text="Q: {{ question }}\nA:",
        author="ann",
        note="first",
        label="base",
        generation=GenerationDefaults(max_new_tokens=8, stop_sequences=("\n",)),
    )
    return "demo"


def test_migrated_schema_matches_the_models(store_url: str, store: Store) -> None:
    engine = create_engine(store_url)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        if connection.dialect.name == "sqlite":
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()


def test_reopening_keeps_data(store_url: str, family: str) -> None:
    with Store.open(url=store_url) as again:
        assert again.get_version(family=family, version="base").text == "Q: {{ question }}\nA:"


def test_versions_are_numbered_with_parents_and_defaults(store: Store, family: str) -> None:
    second = store.add_version(family=family, text="Question: {{ question }}\nA:", author="bob", note="longer")
    third = store.add_version(family=family, text="{{ question }}?", author="bob", note="terse", parent=1, label="terse")
    assert (second.number, second.parent, third.number, third.parent) == (2, 1, 3, 1)
    # Generation settings default to the parent's.
    assert second.generation == GenerationDefaults(max_new_tokens=8, stop_sequences=("\n",))
    assert store.get_version(family=family, version="terse") == third
    assert store.get_version(family=family, version="2") == second
    assert store.get_version(family=family, version=2).created_at.tzinfo is not None
    assert [v.number for v in store.get_family(name=family).versions] == [1, 2, 3]


def test_records_are_frozen_dataclasses(store: Store, family: str) -> None:
    version = store.get_version(family=family, version=1)
    assert dataclasses.is_dataclass(version)
    with pytest.raises(dataclasses.FrozenInstanceError):
        version.text = "changed"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("call", "phrase"),
    [
        (lambda s: s.get_version(family="demo", version=7), r"no version 7; available: 1 \(base\)"),
        (lambda s: s.get_version(family="nope", version=1), "no template family named 'nope'"),
        (lambda s: s.add_version(family="demo", text="x", author="a", note="n", label="base"), "already used"),
        (lambda s: s.add_version(family="demo", text="x", author="a", note="n", parent=9), "no version 9"),
        (lambda s: s.add_family(name="demo"), "already exists"),
    ],
)
def test_user_errors_are_clear_and_write_nothing(store: Store, family: str, call, phrase) -> None:
    with pytest.raises(StoreError, match=phrase):
        call(store)
    assert [v.number for v in store.get_family(name=family).versions] == [1]


@pytest.mark.parametrize(("text", "phrase"), [("ok\n{{ broken", "line 2"), ("", "template is empty"), (" \n\t", "template is empty")])
def test_bad_template_is_refused_before_writing(store: Store, family: str, text: str, phrase: str) -> None:
    with pytest.raises(TemplateError, match=phrase):
        store.add_version(family=family, text=text, author="a", note="n")
    assert len(store.get_family(name=family).versions) == 1


COMPLETION = Completion(
    prompt="Q: why\nA:",
    text=" because",
    tokens=(GeneratedToken(5, " bec", 0, 4, -0.5), GeneratedToken(7, "ause", 4, 8, -0.25)),
    stop_reason=StopReason.MAX_NEW_TOKENS,
    timings={"prefill_s": 0.25, "decode_s": 0.5, "total_s": 0.75, "new_tokens": 2.0},
)
SAMPLED = GenerationSettings(max_new_tokens=8, temperature=0.7, seed=7, stop_sequences=("\n",))


def run_kwargs(**overrides):
    values = dict(
        family="demo",
        version="base",
        model="gemma3_270m",
        completion=COMPLETION,
        values={"question": "why"},
        settings=SAMPLED,
    )
    values.update(overrides)
    return values


def failed_run_kwargs(**overrides):
    values = dict(
        family="demo",
        version="base",
        model="gemma3_270m",
        prompt="Q: why\nA:",
        values={"question": "why"},
        settings=SAMPLED,
        error="out of memory",
    )
    values.update(overrides)
    return values


def test_a_completion_reads_back_as_saved(store: Store, family: str) -> None:
    saved = store.add_run(**run_kwargs())
    run = store.get_run(run_id=saved.id)
    assert run == saved
    assert run.as_completion() == COMPLETION
    assert (run.prompt, run.completion, run.tokens) == (COMPLETION.prompt, COMPLETION.text, COMPLETION.tokens)
    assert (run.stop_reason, run.timings) == (StopReason.MAX_NEW_TOKENS, COMPLETION.timings)
    assert (run.family, run.version, run.variables, run.error) == ("demo", 1, {"question": "why"}, None)
    assert (run.generation, run.seed) == (SAMPLED.to_dict(), 7)
    assert store.add_run(**run_kwargs(settings=GenerationSettings(seed=7))).seed is None  # greedy uses no seed


def test_a_failed_run_keeps_its_error_and_settings(store: Store, family: str) -> None:
    run = store.get_run(run_id=store.add_failed_run(**failed_run_kwargs()).id)
    assert (run.prompt, run.error, run.completion, run.tokens, run.stop_reason, run.timings) == (
        "Q: why\nA:", "out of memory", "", (), None, {}
    )
    assert (run.generation, run.seed, run.variables) == (SAMPLED.to_dict(), 7, {"question": "why"})
    assert run.as_completion() is None


def test_runs_filter(store: Store, family: str) -> None:
    store.add_version(family=family, text="{{ question }}", author="a", note="n")
    first = store.add_run(**run_kwargs())
    second = store.add_failed_run(**failed_run_kwargs(version=2, model="other"))
    assert [r.id for r in store.list_runs()] == [second.id, first.id]
    assert [r.id for r in store.list_runs(family=family, version=1)] == [first.id]
    assert [r.id for r in store.list_runs(model="other")] == [second.id]
    assert store.list_runs(family=family, version="base", model="other") == []


NOT_IN_STORE = [
    ({"values": {"x": object()}}, "values cannot be stored as JSON"),
    ({"values": {"x": math.nan}}, "values cannot be stored as JSON"),
    ({"case_id": "missing"}, "no test case 'missing'"),
    ({"version": 5}, "no version 5"),
]


@pytest.mark.parametrize(
    ("overrides", "phrase"),
    [
        ({"completion": dataclasses.replace(COMPLETION, timings={"total_s": math.nan})}, "timings cannot be stored"),
        ({"completion": dataclasses.replace(COMPLETION, timings={"total_s": object()})}, "timings cannot be stored"),
        ({"completion": dataclasses.replace(COMPLETION, tokens=(GeneratedToken(5, "x", 0, 1, -math.inf),))}, "tokens"),
        *NOT_IN_STORE,
    ],
)
def test_a_bad_run_is_refused_and_leaves_nothing(store: Store, family: str, overrides, phrase) -> None:
    with pytest.raises(StoreError, match=phrase):
        store.add_run(**run_kwargs(**overrides))
    assert store.list_runs() == []


@pytest.mark.parametrize(("overrides", "phrase"), NOT_IN_STORE)
def test_a_bad_failed_run_is_refused_and_leaves_nothing(store: Store, family: str, overrides, phrase) -> None:
    with pytest.raises(StoreError, match=phrase):
        store.add_failed_run(**failed_run_kwargs(**overrides))
    assert store.list_runs() == []


def test_salience_is_stored_once_per_run_span_and_method(store: Store, family: str) -> None:
    run = store.add_run(**run_kwargs())
    assert store.get_salience(run_id=run.id, target_start=0, target_end=8, method="grad_l2") is None
    stored = store.put_salience(run_id=run.id, target_start=0, target_end=8, method="grad_l2", scores=[0.5, 0.25])
    again = store.put_salience(run_id=run.id, target_start=0, target_end=8, method="grad_l2", scores=[9.0])
    assert again == stored
    assert store.get_salience(run_id=run.id, target_start=0, target_end=8, method="grad_l2").scores == [0.5, 0.25]
    other = store.put_salience(run_id=run.id, target_start=0, target_end=8, method="grad_dot_input", scores=[1.0])
    assert other.scores == [1.0]
    with pytest.raises(StoreError, match="empty or invalid"):
        store.put_salience(run_id=run.id, target_start=3, target_end=3, method="grad_l2", scores=[])
    with pytest.raises(StoreError, match="no run 999"):
        store.put_salience(run_id=999, target_start=0, target_end=1, method="grad_l2", scores=[])


def test_reviews_of_runs_and_comparisons(store: Store, family: str) -> None:
    run = store.add_run(**run_kwargs())
    good = store.add_review(verdict="good", reviewer="legal", comment="clear", run_id=run.id)
    unsure = store.add_review(verdict="unsure", reviewer="policy", subject="demo:v1-vs-v2")
    assert store.list_reviews(run_id=run.id) == [good]
    assert store.list_reviews(subject="demo:v1-vs-v2") == [unsure]
    assert [r.id for r in store.list_reviews()] == [good.id, unsure.id]
    for bad, phrase in [
        (dict(verdict="great", reviewer="x", run_id=run.id), "verdict must be one of"),
        (dict(verdict="bad", reviewer="x"), "exactly one thing"),
        (dict(verdict="bad", reviewer="x", run_id=run.id, subject="s"), "exactly one thing"),
        (dict(verdict="bad", reviewer=" ", run_id=run.id), "reviewer"),
        (dict(verdict="bad", reviewer="x", run_id=12345), "no run 12345"),
    ]:
        with pytest.raises(StoreError, match=phrase):
            store.add_review(**bad)
    assert len(store.list_reviews()) == 2


def test_url_comes_from_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PROMPTKIT_DB_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("PROMPTKIT_DB", str(tmp_path / "ignored.db"))
    assert resolve_url() == "postgresql+psycopg://u@h/db"
    assert resolve_url("sqlite:///explicit.db") == "sqlite:///explicit.db"
    monkeypatch.delenv("PROMPTKIT_DB_URL")
    assert resolve_url() == f"sqlite:///{tmp_path / 'ignored.db'}"
    monkeypatch.delenv("PROMPTKIT_DB")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_url() == f"sqlite:///{tmp_path / '.cache/promptkit/promptkit.db'}"
    assert (tmp_path / ".cache/promptkit").is_dir()


@pytest.mark.parametrize(
    ("url", "phrase"),
    [
        ("nonsense://", "invalid store URL"),
        ("postgresql+psycopg://nobody:secret@127.0.0.1:1/none", "cannot open the store"),
    ],
)
def test_unusable_urls_give_store_errors(url: str, phrase: str) -> None:
    with pytest.raises(StoreError, match=phrase) as caught:
        Store.open(url=url)
    assert "secret" not in str(caught.value)


def test_list_models_is_distinct_and_sorted(store: Store, family: str) -> None:
    assert store.list_models() == []
    for model in ("zeta", "alpha", "zeta", "Beta"):
        store.add_run(**run_kwargs(model=model))
    assert store.list_models() == ["Beta", "alpha", "zeta"]


def test_template_parts_rebuild_the_prompt_or_are_empty(store: Store, family: str) -> None:
    run = store.add_run(**run_kwargs())
    parts = store.template_parts(run=run)
    assert [(part.start, part.end) for part in parts][-1][1] == len(run.prompt)
    assert [(p.kind, run.prompt[p.start : p.end]) for p in parts if p.kind == "variable"] == [("variable", "why")]
    # A prompt the version no longer renders to, or values it cannot render, give no parts.
    edited = dataclasses.replace(COMPLETION, prompt="Q: edited\nA:")
    assert store.template_parts(run=store.add_run(**run_kwargs(completion=edited))) == ()
    assert store.template_parts(run=store.add_run(**run_kwargs(values={}))) == ()


def test_token_ids_are_the_generated_tokens_ids(store: Store, family: str) -> None:
    assert store.add_run(**run_kwargs()).token_ids() == [5, 7]
    assert store.add_run(**run_kwargs(completion=dataclasses.replace(COMPLETION, tokens=()))).token_ids() is None


@pytest.mark.parametrize(
    ("stored", "read"),
    [
        # Runs saved before tokens kept their offsets.
        ([{"id": 5, "text": " bec", "logprob": -0.5}], (GeneratedToken(5, " bec", 0, 0, -0.5),)),
        ([{"id": 5, "text": " bec", "start": 0, "end": 4, "logprob": -1}], (GeneratedToken(5, " bec", 0, 4, -1.0),)),
        # Entries that are not whole tokens make the run read as having none.
        ([{"id": 5, "text": " bec", "logprob": -0.5}, {"text": "ause"}], ()),
        ([{"id": True, "text": "x", "logprob": -0.5}], ()),
        ([{"id": "5", "text": "x", "logprob": -0.5}], ()),
        ([{"id": 5, "text": "x"}], ()),
        (["junk"], ()),
    ],
)
def test_stored_token_layouts_read_back_as_generated_tokens(
    store_url: str, store: Store, family: str, stored, read
) -> None:
    run = store.add_run(**run_kwargs())
    engine = create_engine(store_url)
    with engine.begin() as connection:
        connection.execute(update(RunRow).where(RunRow.id == run.id).values(tokens=stored))
    engine.dispose()
    assert store.get_run(run_id=run.id).tokens == read

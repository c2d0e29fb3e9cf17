"""Upgrading a store made before comparisons were stored: reviews of comparisons point at new comparison records."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

from promptkit.columns import Column
from promptkit.store import ComparisonCellRecord, Store
from promptkit.templates import TestCase

MIGRATIONS = Path(__file__).parents[2] / "promptkit" / "store" / "migrations"


def _store_at_first_revision(url: str) -> None:
    engine = create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        when = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
        connection.execute(
            text("INSERT INTO families (id, name, description, candidate_labels, created_at) "
                 "VALUES (1, 'menu analysis', '', '[\"Avoid\"]', :when)"),
            {"when": when},
        )
        connection.execute(
            text("INSERT INTO cases (family_id, case_key, \"values\", expect, updated_at) "
                 "VALUES (1, 'soup', '{\"dish\": \"Onion soup\"}', NULL, :when)"),
            {"when": when},
        )
        reviews = [
            ("compare menu analysis v1,v3 over soup, bread", "good", "v3 fixes it", "ada"),
            ("compare menu analysis v1,v3 over soup, bread", "bad", "not for bread", "grace"),
            ("compare menu analysis v2,v3 over soup", "unsure", "", "ada"),
            ("compare gone-family v1,v2 over soup", "good", "family deleted since", "ada"),
            ("a note on something else", "good", "free text", "ada"),
        ]
        for subject, verdict, comment, reviewer in reviews:
            connection.execute(
                text("INSERT INTO reviews (subject, verdict, comment, reviewer, created_at) "
                     "VALUES (:subject, :verdict, :comment, :reviewer, :when)"),
                {"subject": subject, "verdict": verdict, "comment": comment, "reviewer": reviewer, "when": when},
            )
    engine.dispose()


def test_reviews_of_comparisons_are_linked_and_nothing_is_lost(store_url: str) -> None:
    _store_at_first_revision(store_url)
    with Store.open(url=store_url) as store:
        reviews = store.list_reviews()
        comparisons = {c.id: c for c in store.list_comparisons()}
    assert [(r.subject, r.verdict, r.comment, r.reviewer) for r in reviews] == [
        ("compare menu analysis v1,v3 over soup, bread", "good", "v3 fixes it", "ada"),
        ("compare menu analysis v1,v3 over soup, bread", "bad", "not for bread", "grace"),
        ("compare menu analysis v2,v3 over soup", "unsure", "", "ada"),
        ("compare gone-family v1,v2 over soup", "good", "family deleted since", "ada"),
        ("a note on something else", "good", "free text", "ada"),
    ]
    first, second, other, gone, free = reviews
    assert first.comparison_id == second.comparison_id is not None and other.comparison_id not in (None, first.comparison_id)
    assert gone.comparison_id is None and free.comparison_id is None
    linked = comparisons[first.comparison_id]
    assert linked.family == "menu analysis" and linked.versions == (1, 3) and linked.created_by == "ada"
    assert [case.id for case in linked.cases] == ["soup", "bread"]
    assert linked.cases[0].values == {"dish": "Onion soup"}  # filled in from the family's stored case
    assert linked.created_at == datetime(2026, 11, 30, 12, 0, tzinfo=UTC) and linked.finished_at is None
    assert comparisons[other.comparison_id].versions == (2, 3) and len(comparisons) == 2


def test_cells_of_a_comparison_survive_the_adapter_columns_migration_both_ways(store_url: str) -> None:
    cases = (TestCase(id="soup", values={"x": "1"}),)
    with Store.open(url=store_url) as store:
        store.add_family(name="menu")
        store.add_version(family="menu", text="{{ x }}", author="seed", note="")
        store.add_version(family="menu", text="{{ x }}!", author="seed", note="")
        started = store.start_comparison(family="menu", versions=[1, 2], cases=cases, model="m", settings={},
                                         created_by="ed")
        cells = [ComparisonCellRecord(version=v, case_id="soup", run_id=None, prompt=None, outcome_likelihoods={},
                                      samples=(), agreement=None, error=f"v{v}") for v in (1, 2)]
        store.finish_comparison(started.id, cells=cells)
    engine = create_engine(store_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0004")
        command.upgrade(config, "head")
    engine.dispose()
    with Store.open(url=store_url) as store:
        again = store.get_comparison(started.id)
    assert again.columns == (Column(1), Column(2)) and [c.error for c in again.cells] == ["v1", "v2"]
    assert all(c.adapter is None for c in again.cells)

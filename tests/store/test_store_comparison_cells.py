"""A comparison's cells stored as they arrive, on SQLite and PostgreSQL: each once, even from two drivers at once."""

from __future__ import annotations

import dataclasses

import pytest
from test_store_processes import start_worker

from promptkit.columns import Column
from promptkit.errors import StoreError
from promptkit.store import ComparisonCellRecord, Store
from promptkit.templates import TestCase

CASES = tuple(TestCase(id=f"case-{n}", values={"x": str(n)}) for n in range(10))


def _started(store: Store) -> int:
    store.add_family(name="menu")
    for text in ("{{ x }}", "{{ x }}!"):
        store.add_version(family="menu", text=text, author="seed", note="")
    return store.start_comparison(
        family="menu", versions=[1, 2], cases=CASES, model="m", settings={}, created_by="ed"
    ).id


def _cell(version: int, case_id: str) -> ComparisonCellRecord:
    return ComparisonCellRecord(version=version, case_id=case_id, run_id=None, prompt=None, outcome_likelihoods={},
                                samples=(), agreement=None, error="not generated in this test")


def test_cells_arrive_in_any_order_once_each_and_finish_with_the_rest(store: Store) -> None:
    comparison_id = _started(store)
    store.add_comparison_cells(comparison_id, [_cell(2, "case-3"), _cell(1, "case-7")])
    with pytest.raises(StoreError, match="v2 × 'case-3' stored already; no cell is stored twice"):
        store.add_comparison_cells(comparison_id, [_cell(1, "case-0"), _cell(2, "case-3")])
    assert len(store.get_comparison(comparison_id).cells) == 2  # the refused call stored nothing
    rest = [_cell(v, c.id) for v in (1, 2) for c in CASES if (v, c.id) not in {(2, "case-3"), (1, "case-7")}]
    finished = store.finish_comparison(comparison_id, cells=rest)
    assert [(c.version, c.case_id) for c in finished.cells] == [(v, c.id) for v in (1, 2) for c in CASES]
    with pytest.raises(StoreError, match="finished already"):
        store.add_comparison_cells(comparison_id, [_cell(1, "case-0")])


def test_two_drivers_storing_the_same_cells_store_each_once(store_url: str, store: Store) -> None:
    comparison_id = _started(store)
    workers = [start_worker("add-cells", store_url, str(comparison_id), who) for who in ("ann", "bob")]
    outputs = [worker.communicate(timeout=120) for worker in workers]
    for worker, (_, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stderr
    stored = [tuple(line.split()[1:]) for stdout, _ in outputs for line in stdout.splitlines() if line.startswith("stored")]
    assert sorted(stored) == sorted((str(v), c.id) for v in (1, 2) for c in CASES)  # each cell by one driver only
    cells = store.get_comparison(comparison_id).cells
    assert len(cells) == 2 * len(CASES) and {cell.error for cell in cells} <= {"ann", "bob"}


def test_adapter_columns_keep_their_cells_apart_from_their_versions(store: Store) -> None:
    store.add_family(name="menu")
    for text in ("{{ x }}", "{{ x }}!"):
        store.add_version(family="menu", text=text, author="seed", note="")
    columns = (Column(2), Column(1, "dishes"), Column(1))
    started = store.start_comparison(
        family="menu", versions=[2, 1], cases=CASES[:2], model="m", settings={}, created_by="ed", columns=columns
    )
    assert started.columns == columns and started.versions == (2, 1)
    adapted = dataclasses.replace(_cell(1, "case-1"), adapter="dishes", error="adapted")
    store.add_comparison_cells(started.id, [_cell(1, "case-1"), adapted])
    with pytest.raises(StoreError, match=r"v1\+adapter:dishes × 'case-1' stored already"):
        store.add_comparison_cells(started.id, [dataclasses.replace(adapted, error="again")])
    with pytest.raises(StoreError, match=r"has no cell v2\+adapter:dishes × 'case-0'; a cell must be one of its columns"):
        store.add_comparison_cells(started.id, [dataclasses.replace(_cell(2, "case-0"), adapter="dishes")])
    rest = [dataclasses.replace(_cell(c.version, case.id), adapter=c.adapter) for c in columns for case in CASES[:2]]
    rest = [cell for cell in rest if (cell.column, cell.case_id) not in {(Column(1), "case-1"), (Column(1, "dishes"), "case-1")}]
    finished = store.finish_comparison(started.id, cells=rest)
    assert [(c.column, c.case_id) for c in finished.cells] == [(c, case.id) for c in columns for case in CASES[:2]]
    assert store.get_comparison(started.id).cells == finished.cells
    assert next(c for c in finished.cells if c.column == Column(1, "dishes") and c.case_id == "case-1").error == "adapted"
    # A comparison without adapters reads back with one plain column per version, as before.
    plain = store.start_comparison(family="menu", versions=[1, 2], cases=CASES, model="m", settings={}, created_by="ed")
    assert store.get_comparison(plain.id).columns == (Column(1), Column(2))


def test_columns_must_name_the_versions_in_order(store: Store) -> None:
    store.add_family(name="menu")
    store.add_version(family="menu", text="{{ x }}", author="seed", note="")
    with pytest.raises(StoreError, match="must name the versions"):
        store.start_comparison(family="menu", versions=[1], cases=CASES, model="m", settings={}, created_by="ed",
                               columns=(Column(1, "a"), Column(1, "a")))
    assert store.list_comparisons() == []

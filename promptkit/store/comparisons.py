"""Store methods for comparisons: started, filled with cells, finished, listed, read back."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from promptkit.columns import Column, plain_columns
from promptkit.errors import StoreError
from promptkit.store import queries
from promptkit.store.records import ComparisonCellRecord, ComparisonRecord
from promptkit.store.schema import (
    ComparisonCellRow,
    ComparisonRow,
    FamilyRow,
    RunRow,
    utc_now,
)
from promptkit.templates.models import Expectation, TestCase

T = TypeVar("T")


class ComparisonsMixin:
    """Comparisons and their cells; mixed into `Store`."""

    if TYPE_CHECKING:
        # Implemented by `Store`; declared here so the mixin's returns keep their types.
        def _read(self, work: Callable[[Session], T]) -> T: ...

        def _write(self, work: Callable[[Session], T]) -> T: ...

    def start_comparison(
        self,
        *,
        family: str,
        versions: Sequence[int],
        cases: Sequence[TestCase],
        model: str,
        settings: Mapping[str, Any],
        created_by: str,
        columns: Sequence[Column] = (),
    ) -> ComparisonRecord:
        """Records that a comparison starts; its cells come with `add_comparison_cells` and `finish_comparison`.

        Args:
            family: Family name.
            versions: Version numbers, the baseline first; each must exist.
                With `columns`, the versions those name, each once, in order.
            cases: The test cases, in order (they may come from a user's file).
            model: The model's name.
            settings: JSON-ready settings (max new tokens, samples, batch size).
            created_by: Who starts it.
            columns: Its columns, the baseline first, when some have an
                adapter; empty for one plain column per version.

        Returns:
            The comparison, with its id and no cells.

        Raises:
            StoreError: If the family or a version does not exist, the columns
                name other versions or one twice, or a value is not JSON.
        """
        if not versions or not cases:
            raise StoreError("a comparison needs at least one version and one test case.")
        if columns and (
            list(dict.fromkeys(column.version for column in columns)) != list(versions)
            or len(set(columns)) != len(columns)
        ):
            raise StoreError(
                f"the columns {[str(c) for c in columns]} must name the versions {list(versions)}, in order, "
                "and no column twice."
            )
        payload = {
            "cases": queries.as_json([case.to_dict() for case in cases], what="cases"),
            "settings": queries.as_json(dict(settings), what="settings"),
        }

        def work(session: Session) -> ComparisonRecord:
            family_row = queries.family_row(session, family)
            numbers = [queries.version_row(session, family_row, number).number for number in versions]
            row = ComparisonRow(
                family_id=family_row.id,
                versions=numbers,
                model=model,
                created_by=created_by,
                columns=[[column.version, column.adapter] for column in columns] if columns else None,
                **payload,
            )
            session.add(row)
            session.flush()
            return _comparison_record(session, row, with_cells=False)

        return self._write(work)

    def add_comparison_cells(self, comparison_id: int, cells: Sequence[ComparisonCellRecord]) -> None:
        """Stores cells of a comparison that is still running, in one transaction, as they finish.

        Args:
            comparison_id: The comparison started with `start_comparison`.
            cells: Finished cells; each names a version and case of the
                comparison that has no stored cell yet.

        Raises:
            StoreError: If the comparison does not exist or is finished, a
                cell is not one of its versions × cases or is stored already
                (no cell is stored twice), a run does not exist, or a value
                is not JSON; nothing is stored then.
        """

        def work(session: Session) -> None:
            _add_cells(session, _running_comparison(session, comparison_id), cells)

        self._write(work)

    def finish_comparison(
        self, comparison_id: int, *, cells: Sequence[ComparisonCellRecord] = ()
    ) -> ComparisonRecord:
        """Stores a comparison's remaining cells and marks it finished, in one transaction.

        Args:
            comparison_id: The comparison started with `start_comparison`.
            cells: Its cells not stored yet with `add_comparison_cells`
                (none when every cell was); each names a version and case of
                the comparison.

        Returns:
            The finished comparison with all its cells.

        Raises:
            StoreError: If the comparison does not exist, is finished already,
                a cell is not one of its versions × cases or is stored already,
                a run does not exist, or a value is not JSON; nothing is
                stored then.
        """

        def work(session: Session) -> ComparisonRecord:
            row = _running_comparison(session, comparison_id)
            _add_cells(session, row, cells)
            row.finished_at = utc_now()
            session.flush()
            return _comparison_record(session, row, with_cells=True)

        return self._write(work)

    def get_comparison(self, comparison_id: int) -> ComparisonRecord:
        """Returns a stored comparison with its cells.

        Raises:
            StoreError: If there is no such comparison.
        """
        return self._read(
            lambda session: _comparison_record(session, _comparison_row(session, comparison_id), with_cells=True)
        )

    def list_comparisons(self, *, family: str | None = None, limit: int | None = None) -> list[ComparisonRecord]:
        """Lists comparisons, newest first, without their cells.

        Args:
            family: Only this family's (default every family's).
            limit: At most this many.
        """

        def work(session: Session) -> list[ComparisonRecord]:
            query = select(ComparisonRow)
            if family is not None:
                query = query.where(ComparisonRow.family_id == queries.family_row(session, family).id)
            query = query.order_by(ComparisonRow.id.desc()).limit(limit)
            return [_comparison_record(session, row, with_cells=False) for row in session.scalars(query)]

        return self._read(work)


def _comparison_row(session: Session, comparison_id: int) -> ComparisonRow:
    row = session.get(ComparisonRow, comparison_id)
    if row is None:
        raise StoreError(
            f"there is no comparison {comparison_id}; `python -m promptkit comparisons --json` lists the stored ones."
        )
    return row


def _running_comparison(session: Session, comparison_id: int) -> ComparisonRow:
    row = _comparison_row(session, comparison_id)
    if row.finished_at is not None:
        raise StoreError(f"comparison {comparison_id} is finished already; start a new one.")
    return row


def _add_cells(session: Session, row: ComparisonRow, cells: Sequence[ComparisonCellRecord]) -> None:
    """Adds `cells` to `row`'s comparison, refusing any that is not its own or is stored already."""
    case_ids = {case["id"] for case in row.cases}
    columns = set(_columns(row))
    stored = {
        (Column(version, adapter or None), case_key)
        for version, adapter, case_key in session.execute(
            select(ComparisonCellRow.version_number, ComparisonCellRow.adapter, ComparisonCellRow.case_key).where(
                ComparisonCellRow.comparison_id == row.id
            )
        ).tuples()
    }
    for cell in cells:
        key = (cell.column, cell.case_id)
        if cell.column not in columns or cell.case_id not in case_ids:
            raise StoreError(
                f"comparison {row.id} has no cell v{cell.column} × {cell.case_id!r}; "
                "a cell must be one of its columns and cases."
            )
        if key in stored:
            raise StoreError(
                f"comparison {row.id} has its cell v{cell.column} × {cell.case_id!r} stored already; "
                "no cell is stored twice."
            )
        if cell.run_id is not None and session.get(RunRow, cell.run_id) is None:
            raise StoreError(f"there is no run {cell.run_id}.")
        stored.add(key)
        session.add(
            ComparisonCellRow(
                comparison_id=row.id,
                version_number=cell.version,
                adapter=cell.adapter or "",
                case_key=cell.case_id,
                run_id=cell.run_id,
                prompt=cell.prompt,
                outcome_likelihoods=queries.as_json(dict(cell.outcome_likelihoods), what="outcome likelihoods"),
                samples=list(cell.samples),
                agreement=cell.agreement,
                error=cell.error,
            )
        )


def _comparison_record(session: Session, row: ComparisonRow, *, with_cells: bool) -> ComparisonRecord:
    """Converts a comparison row; cases recorded by id only are completed from the family's cases."""
    family = session.get_one(FamilyRow, row.family_id)
    candidates = tuple(family.candidate_labels)
    known = {case.id: case for case in queries.family_record(session, family).cases} if any(
        "values" not in case for case in row.cases
    ) else {}
    cases = tuple(_case(data, candidates=candidates, known=known) for data in row.cases)
    cells: tuple[ComparisonCellRecord, ...] = ()
    if with_cells:
        # Cells arrive in any order (batches, workers); they read back column-major, cases in order.
        position = {
            (column, data["id"]): (i, j) for i, column in enumerate(_columns(row)) for j, data in enumerate(row.cases)
        }
        rows = sorted(
            session.scalars(select(ComparisonCellRow).where(ComparisonCellRow.comparison_id == row.id)),
            key=lambda cell: position.get(
                (Column(cell.version_number, cell.adapter or None), cell.case_key), (len(position), cell.id)
            ),
        )
        cells = tuple(
            ComparisonCellRecord(
                version=cell.version_number,
                case_id=cell.case_key,
                run_id=cell.run_id,
                prompt=cell.prompt,
                outcome_likelihoods=dict(cell.outcome_likelihoods),
                samples=tuple(cell.samples),
                agreement=cell.agreement,
                error=cell.error,
                adapter=cell.adapter or None,
            )
            for cell in rows
        )
    return ComparisonRecord(
        id=row.id,
        family=family.name,
        versions=tuple(row.versions),
        cases=cases,
        model=row.model,
        settings=dict(row.settings),
        created_by=row.created_by,
        created_at=queries.utc(row.created_at),
        finished_at=None if row.finished_at is None else queries.utc(row.finished_at),
        cells=cells,
        columns=_columns(row),
    )


def _columns(row: ComparisonRow) -> tuple[Column, ...]:
    """A comparison's columns: as stored, or one plain column per version."""
    if row.columns is None:
        return plain_columns(tuple(row.versions))
    return tuple(Column(int(version), adapter) for version, adapter in row.columns)


def _case(data: Mapping[str, Any], *, candidates: tuple[str, ...], known: Mapping[str, TestCase]) -> TestCase:
    if "values" not in data:
        return known.get(data["id"], TestCase(id=data["id"], values={}))
    expect = data.get("expect")
    return TestCase(
        id=data["id"],
        values=dict(data["values"]),
        expect=None if expect is None else Expectation.from_dict(expect, family_candidates=candidates),
    )

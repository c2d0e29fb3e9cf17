"""Lookups and row-to-record conversions shared by the store's methods.

Every function takes an open session and runs inside the caller's
transaction; user errors are raised as StoreError with what to do.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from promptkit.errors import StoreError
from promptkit.generation import GeneratedToken, StopReason
from promptkit.store.records import FamilyRecord, ReviewRecord, RunRecord, VersionRecord
from promptkit.store.schema import CaseRow, FamilyRow, ReviewRow, RunRow, VersionRow
from promptkit.templates.models import Expectation, GenerationDefaults, ReviewCriterion, TestCase


def as_json(value: object, *, what: str) -> Any:
    """Checks that `value` is plain JSON and returns a JSON-normalised copy.

    Args:
        value: The value to store.
        what: Its name, for the message.

    Returns:
        The value as `json.loads` would return it (tuples become lists).

    Raises:
        StoreError: If it holds something JSON cannot represent (objects,
            NaN or infinities).
    """
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise StoreError(f"{what} cannot be stored as JSON: {error}. Pass plain lists, dicts, numbers and text.") from None


def utc(moment: datetime) -> datetime:
    """Returns `moment` as an aware UTC datetime (SQLite drops the zone)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def family_row(session: Session, name: str, *, lock: bool = False) -> FamilyRow:
    """Finds a family, optionally locking its row until the transaction ends.

    Locking the family row serialises version-number allocation on
    PostgreSQL; SQLite's write transactions are serialised already.
    """
    query = select(FamilyRow).where(FamilyRow.name == name)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        known = ", ".join(session.scalars(select(FamilyRow.name).order_by(FamilyRow.name))) or "none"
        raise StoreError(f"no template family named {name!r}; known families: {known}.")
    return row


def version_row(session: Session, family: FamilyRow, ref: int | str) -> VersionRow:
    """Finds a version by number, by a number written as text, or by label."""
    query = select(VersionRow).where(VersionRow.family_id == family.id)
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        row = session.scalar(query.where(VersionRow.number == int(ref)))
    else:
        row = session.scalar(query.where(VersionRow.label == ref))
    if row is None:
        available = [
            f"{number}" + (f" ({label})" if label else "")
            for number, label in session.execute(
                select(VersionRow.number, VersionRow.label)
                .where(VersionRow.family_id == family.id)
                .order_by(VersionRow.number)
            )
        ]
        raise StoreError(
            f"family {family.name!r} has no version {ref!r}; available: {', '.join(available) or 'none'}."
        )
    return row


def next_number(session: Session, family: FamilyRow) -> int:
    """Returns the number the family's next version gets."""
    highest = session.scalar(select(func.max(VersionRow.number)).where(VersionRow.family_id == family.id))
    return (highest or 0) + 1


def version_records(session: Session, family: FamilyRow) -> list[VersionRecord]:
    """Returns every version of a family, in increasing number."""
    rows = list(session.scalars(select(VersionRow).where(VersionRow.family_id == family.id).order_by(VersionRow.number)))
    numbers = {row.id: row.number for row in rows}
    return [version_record(row, family=family.name, parent=numbers.get(row.parent_id or -1)) for row in rows]


def version_record(row: VersionRow, *, family: str, parent: int | None) -> VersionRecord:
    """Converts a version row; `parent` is the parent's number."""
    return VersionRecord(
        family=family,
        number=row.number,
        label=row.label,
        text=row.text,
        author=row.author,
        note=row.note,
        parent=parent,
        generation=GenerationDefaults.from_dict(row.generation),
        created_at=utc(row.created_at),
    )


def parent_number(session: Session, row: VersionRow) -> int | None:
    """Returns the number of a version's parent, if it has one."""
    if row.parent_id is None:
        return None
    return session.scalar(select(VersionRow.number).where(VersionRow.id == row.parent_id))


def case_rows(session: Session, family: FamilyRow) -> list[CaseRow]:
    """Returns a family's test case rows in the order they were added."""
    return list(session.scalars(select(CaseRow).where(CaseRow.family_id == family.id).order_by(CaseRow.id)))


def case_record(row: CaseRow, *, candidates: tuple[str, ...]) -> TestCase:
    """Converts a case row to the library's TestCase."""
    expect = None if row.expect is None else Expectation.from_dict(row.expect, family_candidates=candidates)
    return TestCase(id=row.case_key, values=dict(row.values), expect=expect)


def family_record(session: Session, row: FamilyRow) -> FamilyRecord:
    """Converts a family row, with its versions and cases."""
    candidates = tuple(row.candidate_labels)
    return FamilyRecord(
        name=row.name,
        description=row.description,
        candidate_labels=candidates,
        versions=tuple(version_records(session, row)),
        cases=tuple(case_record(case, candidates=candidates) for case in case_rows(session, row)),
        created_at=utc(row.created_at),
        review_criteria=tuple(ReviewCriterion.from_dict(criterion) for criterion in row.review_criteria),
    )


def run_record(session: Session, row: RunRow) -> RunRecord:
    """Converts a run row, naming its family, version number and case."""
    version = session.get_one(VersionRow, row.version_id)
    family = session.get_one(FamilyRow, version.family_id)
    case_key = None if row.case_id is None else session.get_one(CaseRow, row.case_id).case_key
    return RunRecord(
        id=row.id,
        family=family.name,
        version=version.number,
        case_id=case_key,
        variables=row.variables,
        prompt=row.prompt,
        model=row.model,
        generation=row.generation,
        seed=row.seed,
        completion=row.completion,
        tokens=generated_tokens(row.tokens),
        stop_reason=None if row.stop_reason is None else StopReason(row.stop_reason),
        timings=row.timings,
        error=row.error,
        created_at=utc(row.created_at),
        created_by=row.created_by,
    )


def generated_tokens(stored: list[Any]) -> tuple[GeneratedToken, ...]:
    """Reads a run's stored tokens back as the tokens generated.

    Args:
        stored: The tokens as `GeneratedToken.to_dict` saved them.

    Returns:
        The tokens; offsets are 0 where a run saved before they were
        recorded lacks them, and none at all when any entry is not a whole
        token (an id, a text and a log-probability).
    """
    tokens = []
    for item in stored:
        whole = (
            isinstance(item, dict)
            and type(item.get("id")) is int
            and isinstance(item.get("text"), str)
            and type(item.get("logprob")) in (int, float)
        )
        if not whole:
            return ()
        start, end = item.get("start", 0), item.get("end", 0)
        tokens.append(GeneratedToken(item["id"], item["text"], start, end, float(item["logprob"])))
    return tuple(tokens)


def review_record(row: ReviewRow) -> ReviewRecord:
    """Converts a review row."""
    return ReviewRecord(
        id=row.id,
        run_id=row.run_id,
        subject=row.subject,
        verdict=row.verdict,  # type: ignore[arg-type]
        comment=row.comment,
        reviewer=row.reviewer,
        created_at=utc(row.created_at),
        comparison_id=row.comparison_id,
    )

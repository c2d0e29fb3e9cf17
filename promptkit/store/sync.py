"""Importing the YAML library into the store, and the reverse for export.

Import is idempotent: a version whose text and generation settings are
already stored (under any number) is skipped, so re-importing changes
nothing. A file version whose content is new, for instance because someone
edited its text, becomes a new version; its parent is the stored version with
the file's number (the one it was edited from). Stored versions are never
changed or deleted, and families or cases only in the store are kept. A case
is taken from the file when the file's case changed since the last import;
otherwise an edit made in the store is kept.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from promptkit.store.queries import case_rows, next_number
from promptkit.store.records import FamilyRecord, ImportReport
from promptkit.store.schema import CaseRow, FamilyRow, VersionRow, utc_now
from promptkit.templates.models import Family, Version


def import_families(session: Session, families: list[Family], *, from_library: bool = True) -> ImportReport:
    """Writes library families into the store, inside the caller's transaction.

    Args:
        session: An open session in a write transaction.
        families: Validated families, e.g. from `load_library`.
        from_library: False for cases edited outside the library files (a
            spreadsheet): they are stored as edits the files have not made.

    Returns:
        What was added or updated.
    """
    families_added: list[str] = []
    versions_added: list[tuple[str, int]] = []
    cases_changed: list[tuple[str, str]] = []
    for family in families:
        row = session.scalar(select(FamilyRow).where(FamilyRow.name == family.name).with_for_update())
        if row is None:
            row = FamilyRow(name=family.name)
            session.add(row)
            families_added.append(family.name)
        if row.description != family.description:
            row.description = family.description
        if row.candidate_labels != list(family.candidate_labels):
            row.candidate_labels = list(family.candidate_labels)
        criteria = [criterion.to_dict() for criterion in family.review_criteria]
        if row.review_criteria != criteria:
            row.review_criteria = criteria
        session.flush()
        versions_added += [(family.name, number) for number in _import_versions(session, row, family)]
        cases_changed += [
            (family.name, case_id) for case_id in _import_cases(session, row, family, from_library=from_library)
        ]
    return ImportReport(tuple(families_added), tuple(versions_added), tuple(cases_changed))


def _content_key(text: str, generation: dict[str, object]) -> str:
    """Identifies a version's content: what changes the prompt or its generation."""
    return json.dumps([text, generation], sort_keys=True)


def _import_versions(session: Session, family: FamilyRow, source: Family) -> list[int]:
    """Adds the family's file versions whose content is not stored yet."""
    stored = list(session.scalars(select(VersionRow).where(VersionRow.family_id == family.id)))
    by_content = {_content_key(row.text, row.generation): row for row in stored}
    by_number = {row.number: row for row in stored}
    labels = {row.label for row in stored if row.label is not None}
    imported: dict[int, VersionRow] = {}  # File number -> stored row with that content.
    added: list[int] = []
    for version in source.versions:
        generation = version.generation.to_dict()
        existing = by_content.get(_content_key(version.text, generation))
        if existing is not None:
            imported[version.number] = existing
            continue
        edited_from = by_number.get(version.number)
        parent = edited_from or (imported.get(version.parent) if version.parent else None)
        label = version.label if version.label not in labels else None
        row = VersionRow(
            family_id=family.id,
            number=next_number(session, family),
            label=label,
            text=version.text,
            author=version.author,
            note=_import_note(version, edited_from=edited_from, source=source),
            parent_id=parent.id if parent is not None else None,
            generation=generation,
        )
        session.add(row)
        session.flush()
        if label is not None:
            labels.add(label)
        by_content[_content_key(row.text, generation)] = row
        by_number.setdefault(row.number, row)
        imported[version.number] = row
        added.append(row.number)
    return added


def _import_note(version: Version, *, edited_from: VersionRow | None, source: Family) -> str:
    """Keeps the file's note, saying so when the version was edited in the file."""
    if edited_from is None or version.note != edited_from.note:
        return version.note
    where = source.source.name if source.source is not None else "the library"
    return f"Edited in {where}, where it is version {version.number}."


def _import_cases(session: Session, family: FamilyRow, source: Family, *, from_library: bool) -> list[str]:
    """Adds new test cases and updates those the file changed since its last import; returns their ids.

    A case edited in the store (a spreadsheet import, a judged answer) keeps
    its edit while the file's case stays as it was when last imported.
    """
    rows = {row.case_key: row for row in case_rows(session, family)}
    changed: list[str] = []
    for case in source.cases:
        data = case.to_dict(family_candidates=source.candidate_labels)
        values, expect = data["values"], data.get("expect")
        digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest() if from_library else None
        row = rows.get(case.id)
        if not from_library:
            if row is None:
                session.add(CaseRow(family_id=family.id, case_key=case.id, values=values, expect=expect))
            elif row.values != values or row.expect != expect:
                row.values, row.expect, row.updated_at = values, expect, utc_now()  # type: ignore[assignment]
            else:
                continue
        elif row is None:
            session.add(CaseRow(family_id=family.id, case_key=case.id, values=values, expect=expect, library_digest=digest))
        elif row.library_digest == digest:
            continue
        elif row.values == values and row.expect == expect:
            row.library_digest = digest
            continue
        else:
            row.values, row.expect, row.library_digest, row.updated_at = values, expect, digest, utc_now()  # type: ignore[assignment]
        changed.append(case.id)
    session.flush()
    return changed


def as_library_family(record: FamilyRecord) -> Family:
    """Converts a stored family to the library form, for writing a file."""
    return Family(
        name=record.name,
        description=record.description,
        candidate_labels=record.candidate_labels,
        review_criteria=record.review_criteria,
        versions=tuple(version.as_version() for version in record.versions),
        cases=record.cases,
    )

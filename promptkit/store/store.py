"""The Store: families, versions, test cases and library import/export.

Runs, salience and reviews are in `promptkit.store.activity`, comparisons in
`promptkit.store.comparisons`, people and roles in `promptkit.store.people`,
review tasks and judgements in `promptkit.store.review_tasks`. Every public
method is one transaction: it either fully happens or leaves nothing behind.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from promptkit.errors import PromptkitError, StoreError, TemplateError
from promptkit.store import queries
from promptkit.store.activity import ActivityMixin
from promptkit.store.adapters import AdaptersMixin
from promptkit.store.comparisons import ComparisonsMixin
from promptkit.store.engine import connect, redacted, resolve_url, write_begin
from promptkit.store.people import PeopleMixin
from promptkit.store.records import FamilyRecord, ImportReport, RunRecord, VersionRecord
from promptkit.store.review_tasks import ReviewTasksMixin
from promptkit.store.schema import FamilyRow, VersionRow
from promptkit.store.sync import as_library_family, import_families
from promptkit.templates.library import dump_family, load_library
from promptkit.templates.models import GenerationDefaults, TestCase
from promptkit.templates.parts import TemplatePart
from promptkit.templates.rendering import detect_variables, render_template

T = TypeVar("T")
_ATTEMPTS = 8
# SQLSTATEs of PostgreSQL errors that a retry resolves: unique violation
# (a concurrent insert won), serialization failure, deadlock.
_RETRY_SQLSTATES = {"23505", "40001", "40P01"}
# Waits between tries when the server cannot be reached: a restart of a few
# seconds is ridden out; a server that stays down is reported after ~7 s.
_RECONNECT_DELAYS = (0.5, 1.5, 2.0, 3.0)
_UNREACHABLE_MESSAGES = ("Connection refused", "server closed the connection", "connection failed", "terminating connection")


class Store(ActivityMixin, AdaptersMixin, ComparisonsMixin, PeopleMixin, ReviewTasksMixin):
    """The promptkit database: SQLite file by default, PostgreSQL for teams.

    Create with `Store.open()`; use as a context manager or call `close()`.
    """

    def __init__(self, *, engine: Engine, url: str) -> None:
        self._engine = engine
        self.url = redacted(url)

    @classmethod
    def open(cls, *, url: str | None = None) -> Store:
        """Opens the store, creating or upgrading its schema.

        Args:
            url: SQLAlchemy URL; by default `PROMPTKIT_DB_URL`, else the
                SQLite file `PROMPTKIT_DB`, else ~/.cache/promptkit/promptkit.db.

        Returns:
            The open store.

        Raises:
            StoreError: If the database cannot be reached or upgraded.
        """
        chosen = resolve_url(url)
        return cls(engine=connect(chosen), url=chosen)

    def close(self) -> None:
        """Closes every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _read(self, work: Callable[[Session], T]) -> T:
        """Runs `work` in a read transaction, waiting a few seconds for a server that went away."""
        for delay in (*_RECONNECT_DELAYS, None):
            try:
                with Session(self._engine) as session, session.begin():
                    return work(session)
            except DBAPIError as error:
                if delay is not None and _unreachable(error):
                    time.sleep(delay)
                    continue
                raise self._refused(error, wrote=False) from None
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _write(self, work: Callable[[Session], T]) -> T:
        """Runs `work` in one write transaction, retrying when it lost a race or the server went away briefly.

        `work` must have no effect outside the session, as it may run again;
        a transaction that fails is rolled back whole, so nothing is half-written.
        """
        reconnects = iter(_RECONNECT_DELAYS)
        attempt = 0
        while True:
            try:
                with write_begin(), Session(self._engine, expire_on_commit=False) as session, session.begin():
                    return work(session)
            except DBAPIError as error:
                attempt += 1
                if isinstance(error, (IntegrityError, OperationalError)) and attempt < _ATTEMPTS and _lost_race(error):
                    time.sleep(random.uniform(0.01, 0.05) * attempt)
                    continue
                delay = next(reconnects, None) if _unreachable(error) else None
                if delay is not None:
                    time.sleep(delay)
                    continue
                raise self._refused(error, wrote=True) from None

    def _refused(self, error: DBAPIError, *, wrote: bool) -> StoreError:
        """The error to show for a database error: unreachable, disk full, or refused."""
        cause = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        outcome = " Nothing was saved." if wrote else ""
        if _disk_full(error):
            return StoreError(f"the disk holding the store at {self.url} is full ({cause}).{outcome} Free some space and try again.")
        if _unreachable(error):
            return StoreError(
                f"the store at {self.url} cannot be reached ({cause}).{outcome} Try again once the server is back."
            )
        return StoreError(f"the store refused the {'write' if wrote else 'read'}: {cause}.{outcome}")

    def list_families(self) -> list[FamilyRecord]:
        """Returns every family with its versions and cases, sorted by name."""
        return self._read(
            lambda session: [
                queries.family_record(session, row)
                for row in session.scalars(select(FamilyRow).order_by(FamilyRow.name))
            ]
        )

    def get_family(self, *, name: str) -> FamilyRecord:
        """Returns one family with its versions and cases.

        Raises:
            StoreError: If there is no such family.
        """
        return self._read(lambda session: queries.family_record(session, queries.family_row(session, name)))

    def add_family(self, *, name: str, description: str = "", candidate_labels: tuple[str, ...] = ()) -> FamilyRecord:
        """Creates an empty family.

        Raises:
            StoreError: If the name is empty or taken.
        """
        if not name.strip():
            raise StoreError("a family needs a name.")

        def work(session: Session) -> FamilyRecord:
            if session.scalar(select(FamilyRow.id).where(FamilyRow.name == name)) is not None:
                raise StoreError(f"a family named {name!r} already exists; choose another name.")
            row = FamilyRow(name=name, description=description, candidate_labels=list(candidate_labels))
            session.add(row)
            session.flush()
            return queries.family_record(session, row)

        return self._write(work)

    def add_version(
        self,
        *,
        family: str,
        text: str,
        author: str,
        note: str,
        label: str | None = None,
        parent: int | None = None,
        generation: GenerationDefaults | None = None,
    ) -> VersionRecord:
        """Saves a new immutable version, numbered after the family's latest.

        Concurrent saves to one family all succeed with distinct numbers.

        Args:
            family: Family name.
            text: The template; it must parse.
            author: Who wrote it.
            note: What changed and why.
            label: Optional short name, unique within the family.
            parent: Number of the version it derives from; default the latest.
            generation: Suggested settings; default those of the parent.

        Returns:
            The saved version.

        Raises:
            TemplateError: If the text is blank or does not parse (nothing is saved).
            StoreError: If the family, parent or label is wrong.
        """
        if not text.strip():
            raise TemplateError("The template is empty; write the prompt text before saving it as a version.")
        detect_variables(text)

        def work(session: Session) -> VersionRecord:
            family_row = queries.family_row(session, family, lock=True)
            taken = select(VersionRow.id).where(VersionRow.family_id == family_row.id, VersionRow.label == label)
            if label is not None and session.scalar(taken) is not None:
                raise StoreError(f"label {label!r} is already used in family {family!r}; choose another.")
            number = queries.next_number(session, family_row)
            parent_ref = parent if parent is not None else (number - 1 if number > 1 else None)
            parent_row = None if parent_ref is None else queries.version_row(session, family_row, parent_ref)
            settings = generation or (GenerationDefaults.from_dict(parent_row.generation) if parent_row else GenerationDefaults())
            row = VersionRow(
                family_id=family_row.id,
                number=number,
                label=label,
                text=text,
                author=author,
                note=note,
                parent_id=parent_row.id if parent_row else None,
                generation=settings.to_dict(),
            )
            session.add(row)
            session.flush()
            return queries.version_record(row, family=family, parent=parent_row.number if parent_row else None)

        return self._write(work)

    def get_version(self, *, family: str, version: int | str) -> VersionRecord:
        """Returns a version by number (or number as text) or by label.

        Raises:
            StoreError: If the family or version does not exist.
        """

        def work(session: Session) -> VersionRecord:
            row = queries.version_row(session, queries.family_row(session, family), version)
            return queries.version_record(row, family=family, parent=queries.parent_number(session, row))

        return self._read(work)

    def get_case(self, *, family: str, case_id: str) -> TestCase:
        """Returns one test case of a family.

        Raises:
            StoreError: If the family or case does not exist.
        """
        record = self.get_family(name=family)
        for case in record.cases:
            if case.id == case_id:
                return case
        known = ", ".join(case.id for case in record.cases) or "none"
        raise StoreError(f"family {family!r} has no test case {case_id!r}; known cases: {known}.")

    def template_parts(self, *, run: RunRecord) -> tuple[TemplatePart, ...]:
        """Returns the template parts of a run's prompt, rebuilt from its version and values.

        Args:
            run: a stored run.

        Returns:
            The parts in order, or none when the version no longer renders
            to exactly the run's prompt (the parts are optional everywhere).
        """
        try:
            version = self.get_version(family=run.family, version=run.version)
            rendered = render_template(version.text, run.variables)
        except PromptkitError:
            return ()
        return rendered.parts if rendered.text == run.prompt else ()

    def import_library(self, *, templates_dir: Path) -> ImportReport:
        """Imports a folder of YAML families; idempotent (see `promptkit.store.sync`).

        Every file is validated before anything is written, and the whole
        import is one transaction.

        Raises:
            TemplateError: If a file is invalid (naming file and line).
        """
        families = load_library(templates_dir)
        return self._write(lambda session: import_families(session, families))

    def import_cases(self, *, family: str, cases: tuple[TestCase, ...]) -> ImportReport:
        """Adds a family's new test cases and updates those whose id is stored, in one transaction.

        Cases are stored as the library import stores them; the family's other
        cases are kept.

        Args:
            family: Family name.
            cases: The cases, e.g. from `promptkit.templates.case_files`.

        Returns:
            The (family, case id) of each case added or changed, in `cases_changed`.

        Raises:
            StoreError: If the family does not exist, or a case's id is empty,
                repeated or over 200 characters, a value is not text, or a label
                is not among the candidates; nothing is written.
        """
        from promptkit.templates.models import Family, ReviewCriterion

        seen: set[str] = set()
        for case in cases:
            # 200 is the length of the cases table's case_key column.
            if not case.id.strip() or len(case.id) > 200:
                raise StoreError(f"test case id {case.id!r} must be non-blank and at most 200 characters; nothing was saved.")
            if case.id in seen:
                raise StoreError(f"test case id {case.id!r} appears twice; give each case its own id. Nothing was saved.")
            seen.add(case.id)
            if not all(isinstance(name, str) and isinstance(value, str) for name, value in case.values.items()):
                raise StoreError(f"the values of test case {case.id!r} must be texts; nothing was saved.")

        def work(session: Session) -> ImportReport:
            row = queries.family_row(session, family, lock=True)
            candidates = tuple(row.candidate_labels)
            for case in cases:
                allowed = (case.expect.candidates if case.expect else ()) or candidates
                unknown = [label for label in (case.expect.labels if case.expect else ()) if label not in allowed]
                if unknown:
                    raise StoreError(
                        f"test case {case.id!r} expects label {unknown[0]!r}, which is not among the candidates "
                        f"{list(allowed)}; nothing was saved."
                    )
            criteria = tuple(ReviewCriterion.from_dict(criterion) for criterion in row.review_criteria)
            source = Family(
                name=row.name, description=row.description, candidate_labels=candidates, cases=cases, review_criteria=criteria
            )
            return import_families(session, [source], from_library=False)

        return self._write(work)

    def export_family(self, *, name: str, templates_dir: Path) -> Path:
        """Writes a stored family to `templates_dir/NAME.yaml`, replacing it atomically.

        Returns:
            The file written.
        """
        text = dump_family(as_library_family(self.get_family(name=name)))
        templates_dir.mkdir(parents=True, exist_ok=True)
        target = templates_dir / f"{name}.yaml"
        # Write then rename, so a reader never sees half a file.
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=templates_dir, suffix=".tmp", delete=False) as handle:
            handle.write(text)
        os.replace(handle.name, target)
        return target


def _unreachable(error: DBAPIError) -> bool:
    """Tells whether an error means the database server cannot be reached (stopped, restarting, network)."""
    if error.connection_invalidated:
        return True
    cause = getattr(error, "orig", None)
    sqlstate = str(getattr(cause, "sqlstate", None) or "")
    if sqlstate.startswith("08") or sqlstate.startswith("57P"):  # connection exception, operator intervention
        return True
    message = str(cause)
    return any(text in message for text in _UNREACHABLE_MESSAGES)


def _disk_full(error: DBAPIError) -> bool:
    """Tells whether an error means the disk under the database is full."""
    cause = getattr(error, "orig", None)
    return getattr(cause, "sqlstate", None) == "53100" or "database or disk is full" in str(cause)


def _lost_race(error: IntegrityError | OperationalError) -> bool:
    """Tells whether an error means another transaction won a race."""
    cause = getattr(error, "orig", None)
    if getattr(cause, "sqlstate", None) in _RETRY_SQLSTATES:
        return True
    message = str(cause)
    return "UNIQUE constraint failed" in message or "database is locked" in message

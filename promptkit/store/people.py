"""Store methods for people and their roles: arriving, being checked, being granted a role."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from promptkit.errors import StoreError
from promptkit.people import AccessPolicy, PermissionDenied, Person, Role
from promptkit.store import queries
from promptkit.store.records import RoleChangeRecord
from promptkit.store.schema import PersonRow, RoleChangeRow, utc_now

T = TypeVar("T")


class PeopleMixin:
    """People and roles; mixed into `Store`."""

    if TYPE_CHECKING:
        # Implemented by `Store`; declared here so the mixin's returns keep their types.
        def _read(self, work: Callable[[Session], T]) -> T: ...

        def _write(self, work: Callable[[Session], T]) -> T: ...

    def arrive(self, *, key: str, name: str, policy: AccessPolicy) -> Person:
        """Records a person's visit (sign-in, or a name given in local mode) and returns them.

        A new person gets `policy.first_role(key)`; an existing one keeps
        their role, except that `policy.admins` are always admins and, in
        local mode, everyone has every role.

        Args:
            key: Their e-mail (team mode) or name (local mode).
            name: The name to show for them.
            policy: How roles are given.

        Raises:
            StoreError: If the key or name is empty.
        """
        key, name = key.strip(), name.strip()
        if not key or not name:
            raise StoreError("a person needs a name (and, when signed in, an e-mail address).")

        def work(session: Session) -> Person:
            row = session.scalar(select(PersonRow).where(PersonRow.key == key))
            if row is None:
                row = PersonRow(key=key, name=name, role=str(policy.first_role(key)), role_set_by="promptkit")
                session.add(row)
            else:
                row.name = name
                if policy.first_role(key) is Role.ADMIN and row.role != str(Role.ADMIN):
                    _change_role(session, row, Role.ADMIN, actor="promptkit")
            session.flush()
            return _person(row)

        return self._write(work)

    def person(self, key: str) -> Person | None:
        """Returns the person with this key as stored now, or None."""
        return self._read(lambda session: _optional_person(session, key))

    def require(self, key: str, role: Role, *, action: str) -> Person:
        """Returns the acting person if their current role allows `action`.

        Args:
            key: The acting person's key.
            role: The least role the action needs.
            action: What they try, for the message (e.g. "run a comparison").

        Raises:
            PermissionDenied: If they are unknown or their role is lower, saying
                which role is needed and who can grant it.
        """

        def work(session: Session) -> Person:
            person = _optional_person(session, key)
            if person is not None and person.role >= role:
                return person
            admins = session.scalars(select(PersonRow.key).where(PersonRow.role == str(Role.ADMIN)).order_by(PersonRow.key))
            granters = ", ".join(admins) or "an admin (PROMPTKIT_ADMINS names the first ones)"
            who = "you are not known to promptkit yet (sign in first)" if person is None else f"{person.name} is a {person.role}"
            raise PermissionDenied(f"To {action} you need the {role} role, but {who}. Ask {granters} to grant it.")

        return self._read(work)

    def set_role(self, *, actor: str, key: str, role: Role) -> Person:
        """Gives a person a role and records the change, in one transaction; only an admin may, and the last admin stays one.

        Raises:
            PermissionDenied: If the actor is not an admin.
            StoreError: If there is no such person, or they are the last admin.
        """
        self.require(actor, Role.ADMIN, action="assign roles")

        def work(session: Session) -> Person:
            row = session.scalar(select(PersonRow).where(PersonRow.key == key))
            if row is None:
                raise StoreError(f"there is nobody with the key {key!r}; they appear here after their first visit.")
            if row.role == str(Role.ADMIN) and role < Role.ADMIN:
                admins = session.scalars(select(PersonRow.id).where(PersonRow.role == str(Role.ADMIN))).all()
                if len(admins) == 1:
                    raise StoreError(f"{row.name} is the last admin; make someone else an admin first.")
            if row.role != str(role):
                _change_role(session, row, role, actor=actor)
            session.flush()
            return _person(row)

        return self._write(work)

    def list_role_changes(self, *, actor: str) -> list[RoleChangeRecord]:
        """Every role change, newest first; only an admin may see them.

        Raises:
            PermissionDenied: If the actor is not an admin.
        """
        self.require(actor, Role.ADMIN, action="see who changed whose role")
        query = select(RoleChangeRow).order_by(RoleChangeRow.id.desc())
        return self._read(lambda session: [_role_change(row) for row in session.scalars(query)])

    def list_people(self) -> list[Person]:
        """Returns everyone, by name."""
        return self._read(
            lambda session: [_person(row) for row in session.scalars(select(PersonRow).order_by(PersonRow.name))]
        )


def _change_role(session: Session, row: PersonRow, role: Role, *, actor: str) -> None:
    """Sets a person's role and records who changed it, from what, to what."""
    now = utc_now()
    session.add(RoleChangeRow(person_key=row.key, changed_by=actor, old_role=row.role, new_role=str(role), changed_at=now))
    row.role, row.role_set_by, row.role_set_at = str(role), actor, now


def _role_change(row: RoleChangeRow) -> RoleChangeRecord:
    return RoleChangeRecord(
        person=row.person_key,
        changed_by=row.changed_by,
        old_role=row.old_role,
        new_role=row.new_role,
        changed_at=queries.utc(row.changed_at),
    )


def _person(row: PersonRow) -> Person:
    return Person(key=row.key, name=row.name, role=Role.named(row.role))


def _optional_person(session: Session, key: str) -> Person | None:
    row = session.scalar(select(PersonRow).where(PersonRow.key == key))
    return None if row is None else _person(row)

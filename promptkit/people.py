"""Who is acting, and what their role lets them do: viewer, reviewer, editor, admin.

Roles are ordered, each allowing what the one before allows and more:
viewer (read), reviewer (+ judge and comment), editor (+ edit templates and
cases, run comparisons, set review tasks), admin (+ assign roles). They are
kept in the store and checked by the library where the work is done, reading
the person's role afresh for every action, so a role changed while someone
is signed in holds from their next action.

Two modes (`PROMPTKIT_MODE`):
    local (default): one's own machine, no sign-in; whoever arrives has every role.
    team: people sign in (the dashboard) or are named by `PROMPTKIT_USER` (the CLI);
        `PROMPTKIT_ADMINS` (comma-separated e-mails) are admins, anyone else new
        gets `PROMPTKIT_DEFAULT_ROLE` (viewer unless set).
"""

from __future__ import annotations

import dataclasses
import enum
import os
from collections.abc import Mapping

from promptkit.errors import PromptkitError


class Role(enum.IntEnum):
    """A person's role; a higher role may do everything a lower one may."""

    VIEWER = 1
    REVIEWER = 2
    EDITOR = 3
    ADMIN = 4

    @classmethod
    def named(cls, name: str) -> Role:
        """The role called `name` (any case).

        Raises:
            PromptkitError: If no role has that name, listing the names.
        """
        try:
            return cls[name.strip().upper()]
        except KeyError:
            known = ", ".join(role.name.lower() for role in cls)
            raise PromptkitError(f"There is no role {name!r}; the roles are {known}.") from None

    def __str__(self) -> str:
        return self.name.lower()


class PermissionDenied(PromptkitError):
    """The acting person's role does not allow the action (the message says which role does, and who grants it)."""


@dataclasses.dataclass(frozen=True)
class Person:
    """Someone who uses promptkit.

    Attributes:
        key: who they are to the store: their e-mail in team mode, their name in local mode.
        name: the name shown beside what they save and judge.
        role: what they may do.
    """

    key: str
    name: str
    role: Role


@dataclasses.dataclass(frozen=True)
class AccessPolicy:
    """How people get their roles.

    Attributes:
        team: True in team mode; in local mode everyone has every role.
        admins: keys (e-mails) that are admins from their first visit.
        default_role: the role of anyone else new, in team mode.
    """

    team: bool = False
    admins: frozenset[str] = frozenset()
    default_role: Role = Role.VIEWER

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> AccessPolicy:
        """Reads `PROMPTKIT_MODE`, `PROMPTKIT_ADMINS` and `PROMPTKIT_DEFAULT_ROLE`.

        Raises:
            PromptkitError: If the mode or the default role is unknown.
        """
        env = os.environ if environ is None else environ
        mode = env.get("PROMPTKIT_MODE", "local").strip().lower() or "local"
        if mode not in ("local", "team"):
            raise PromptkitError(f"PROMPTKIT_MODE must be 'local' or 'team', not {mode!r}.")
        admins = frozenset(part.strip().lower() for part in env.get("PROMPTKIT_ADMINS", "").split(",") if part.strip())
        return cls(
            team=mode == "team",
            admins=admins,
            default_role=Role.named(env.get("PROMPTKIT_DEFAULT_ROLE", "viewer")),
        )

    def first_role(self, key: str) -> Role:
        """The role a person gets on their first visit."""
        if not self.team or key.lower() in self.admins:
            return Role.ADMIN
        return self.default_role

"""Who the CLI acts as: `PROMPTKIT_USER`, else the operating system's user name."""

from __future__ import annotations

import getpass
import os

from promptkit.people import AccessPolicy, Person
from promptkit.store import Store


def acting_user() -> str:
    """The key of the person the CLI acts as."""
    return os.environ.get("PROMPTKIT_USER", "").strip() or getpass.getuser()


def acting_person(store: Store) -> Person:
    """Records the CLI's person's visit and returns them, with their role (every role in local mode)."""
    key = acting_user()
    return store.arrive(key=key, name=key, policy=AccessPolicy.from_environment())

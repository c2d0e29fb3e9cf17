"""Who the CLI acts as: `PROMPTKIT_USER`, else the operating system's user name."""

from __future__ import annotations

import getpass
import os


def acting_user() -> str:
    """The name stored as the author of what a CLI command saves or starts."""
    return os.environ.get("PROMPTKIT_USER", "").strip() or getpass.getuser()

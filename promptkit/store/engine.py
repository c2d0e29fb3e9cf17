"""Connecting to the store's database: URL choice, SQLite settings, migrations.

SQLite gets WAL mode (readers never wait for the writer), full sync (a
commit survives a killed process), foreign keys, and write transactions that
take the write lock up front (`BEGIN IMMEDIATE`) so two writers queue instead
of failing half-way. PostgreSQL needs none of that.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.util import CommandError
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from promptkit.errors import StoreError

DEFAULT_SQLITE_PATH = Path("~/.cache/promptkit/promptkit.db")
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any fixed number: the PostgreSQL advisory lock that serialises migrations.
_MIGRATION_LOCK = 7_204_811_531
_BUSY_TIMEOUT_MS = 30_000
# How the next SQLite transaction on this thread begins; see `write_begin`.
_BEGIN_MODE: ContextVar[str] = ContextVar("promptkit_sqlite_begin", default="BEGIN")


def resolve_url(url: str | None = None) -> str:
    """Chooses the database URL.

    Args:
        url: An explicit SQLAlchemy URL; wins when given.

    Returns:
        `url`, else `PROMPTKIT_DB_URL`, else a SQLite file at `PROMPTKIT_DB`
        or `~/.cache/promptkit/promptkit.db` (its folder is created).
    """
    chosen = url or os.environ.get("PROMPTKIT_DB_URL")
    if chosen:
        return chosen
    path = Path(os.environ.get("PROMPTKIT_DB") or DEFAULT_SQLITE_PATH).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def redacted(url: str) -> str:
    """Returns `url` with any password hidden, fit for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid URL>"


def connect(url: str) -> Engine:
    """Creates an engine for `url` and brings its schema up to date.

    Args:
        url: A SQLAlchemy URL (sqlite or postgresql+psycopg).

    Returns:
        The engine, with the latest schema applied.

    Raises:
        StoreError: If the URL is invalid, the server unreachable, or the
            schema newer than this version of promptkit.
    """
    try:
        parsed = make_url(url)
        is_sqlite = parsed.get_backend_name() == "sqlite"
        options: dict[str, Any] = {"pool_pre_ping": True} if not is_sqlite else {}
        engine = create_engine(parsed, **options)
    except (ArgumentError, NoSuchModuleError, ImportError) as error:
        raise StoreError(f"invalid store URL {redacted(url)}: {error}. Fix PROMPTKIT_DB_URL.") from None
    if is_sqlite:
        _configure_sqlite(engine)
    try:
        _migrate(engine)
    except CommandError as error:
        engine.dispose()
        raise StoreError(
            f"the store at {redacted(url)} has a schema this promptkit does not know ({error}); "
            "upgrade promptkit."
        ) from None
    except SQLAlchemyError as error:
        engine.dispose()
        cause = getattr(error, "orig", None) or error
        raise StoreError(
            f"cannot open the store at {redacted(url)}: {cause}. Check the URL and that the server runs."
        ) from None
    return engine


@contextmanager
def write_begin() -> Iterator[None]:
    """Makes SQLite transactions begun inside this block take the write lock first.

    Without it, a transaction that reads and then writes can fail with
    "database is locked" when another process wrote in between; with it,
    writers wait their turn (up to the busy timeout).
    """
    token = _BEGIN_MODE.set("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        _BEGIN_MODE.reset(token)


def _configure_sqlite(engine: Engine) -> None:
    """Sets SQLite pragmas on each connection and takes over BEGIN."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event emit BEGIN, instead of the driver's
        # own implicit (and deferred) transaction handling.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        connection.exec_driver_sql(_BEGIN_MODE.get())


def _migrate(engine: Engine) -> None:
    """Upgrades the schema to the newest migration, one process at a time."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with write_begin(), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Two app instances starting at once must not both create tables.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

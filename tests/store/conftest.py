"""Store fixtures: every store test runs on a SQLite file and on PostgreSQL.

PostgreSQL is used when PROMPTKIT_TEST_PG_URL points at a server where the
user may create databases (tests/store/start_postgres.sh starts one and
prints the URL); each test gets a fresh database, dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from promptkit.store import Store

REPO = Path(__file__).resolve().parents[2]
PG_ENV = "PROMPTKIT_TEST_PG_URL"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database, for each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    server = os.environ.get(PG_ENV)
    if not server:
        # CI starts a server, so there a missing URL is a failure, not a skip.
        (pytest.fail if os.environ.get("CI") else pytest.skip)(
            f"PostgreSQL backend: set {PG_ENV} (bash tests/store/start_postgres.sh prints it)"
        )
    name = f"promptkit_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(make_url(server), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An open, empty store on each backend."""
    opened = Store.open(url=store_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def templates_dir(tmp_path: Path) -> Path:
    """A private copy of the repository's templates/ folder, safe to edit."""
    copy = tmp_path / "templates"
    shutil.copytree(REPO / "templates", copy)
    return copy

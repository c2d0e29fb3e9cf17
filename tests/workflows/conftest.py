"""Fixtures for workflow tests: a store (SQLite file) holding the mini family and its editor Ada, shared with the CLI."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from promptkit.people import AccessPolicy
from promptkit.store import Store

MINI_FAMILY = Path(__file__).parents[1] / "data" / "mini_family.yaml"


@pytest.fixture
def templates_dir(tmp_path: Path) -> Path:
    """A library folder holding only the mini family."""
    folder = tmp_path / "templates"
    folder.mkdir()
    shutil.copy(MINI_FAMILY, folder / "mini.yaml")
    return folder


@pytest.fixture
def mini_store(tmp_path: Path, templates_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """The store the CLI opens too (PROMPTKIT_DB), with the mini family imported."""
    monkeypatch.delenv("PROMPTKIT_DB_URL", raising=False)
    monkeypatch.setenv("PROMPTKIT_DB", str(tmp_path / "store.db"))
    store = Store.open()
    store.import_library(templates_dir=templates_dir)
    store.arrive(key="ada", name="Ada", policy=AccessPolicy())  # local mode: every role
    try:
        yield store
    finally:
        store.close()

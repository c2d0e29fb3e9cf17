"""AppTest fixtures: the tiny model and a fresh SQLite store per test."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def app_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Points the dashboard at the tiny model and a temporary store."""
    monkeypatch.setenv("PROMPTKIT_MODEL", "tiny:gemma3")
    monkeypatch.setenv("PROMPTKIT_DB", str(tmp_path / "store.db"))
    monkeypatch.delenv("PROMPTKIT_DB_URL", raising=False)
    monkeypatch.setenv("PROMPTKIT_LOAD_LOG", str(tmp_path / "loads.log"))
    return tmp_path

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
    # app.py would route this test process's stderr through the native-log filter.
    monkeypatch.setenv("PROMPTKIT_VERBOSE", "1")
    return tmp_path


@pytest.fixture
def small_library(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A template library holding only the short `tiny-menu` family."""
    folder = app_env / "templates"
    folder.mkdir()
    (folder / "tiny-menu.yaml").write_text((Path(__file__).parent / "small_family.yaml").read_text())
    monkeypatch.setenv("PROMPTKIT_TEMPLATES_DIR", str(folder))
    return folder

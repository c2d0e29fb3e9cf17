"""Fixtures for evaluation tests: a small family whose prompts fit tiny models."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptkit.templates import load_family_file

MINI_FAMILY = (Path(__file__).parents[1] / "data" / "mini_family.yaml").read_text(encoding="utf-8")


@pytest.fixture
def templates_dir(tmp_path: Path) -> Path:
    """A library folder holding only the mini family."""
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "mini.yaml").write_text(MINI_FAMILY, encoding="utf-8")
    return folder


@pytest.fixture
def mini_family(templates_dir: Path):
    """The mini family, loaded."""
    return load_family_file(templates_dir / "mini.yaml")

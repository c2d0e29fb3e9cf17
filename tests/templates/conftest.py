"""Fixtures for the template tests: the shipped library and expected prompts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# A copy of the first three lines of ../shared/reference/lit_prompt_examples.jsonl,
# so the tests run without the shared folder; a test checks the copy is faithful.
EXPECTED_PROMPTS = REPO / "tests" / "data" / "menu_analysis_prompts.jsonl"


@pytest.fixture
def expected_prompts() -> dict[str, str]:
    """The LIT menu-analysis prompts by source label."""
    rows = [json.loads(line) for line in EXPECTED_PROMPTS.read_text(encoding="utf-8").splitlines()]
    return {row["source"]: row["prompt"] for row in rows}


@pytest.fixture
def library_dir() -> Path:
    """The repository's templates/ folder."""
    return REPO / "templates"

"""Fixtures for evaluation tests: a small family whose prompts fit tiny models."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptkit.templates import load_family_file

MINI_FAMILY = '''\
family: mini
description: A tiny menu family for tests.
candidate_labels: [Avoid, Likely good]
versions:
  - number: 1
    label: first
    generation:
      max_new_tokens: 6
      stop_sequences: ["\\n\\n"]
    text: |-
      Suggestion: {{ dish }}
      Recommendation:
  - number: 2
    label: second
    generation:
      max_new_tokens: 6
      stop_sequences: ["\\n\\n"]
    text: |-
      Analyze a menu item.
      Suggestion: {{ dish }}
      Recommendation:
cases:
  - id: soup
    values: {dish: Onion soup}
    expect:
      line: "Recommendation:"
      labels: [Avoid]
  - id: bread
    values: {dish: "<script>alert(1)</script>"}
    expect:
      line: "Recommendation:"
      labels: [Likely good]
      not_contains: [Avoid]
'''


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

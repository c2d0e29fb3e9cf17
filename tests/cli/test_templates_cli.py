"""`python -m promptkit templates` and `render`, as subprocesses with their own store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXPECTED = REPO / "tests" / "data" / "menu_analysis_prompts.jsonl"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An environment whose store is a fresh SQLite file."""
    values = {key: value for key, value in os.environ.items() if key != "PROMPTKIT_DB_URL"}
    values.update(PROMPTKIT_DB=str(tmp_path / "cli.db"), PYTHONPATH=str(REPO))
    values.pop("PROMPTKIT_TEMPLATES_DIR", None)
    return values


def promptkit(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "promptkit", *args], capture_output=True, env=env, cwd=REPO, timeout=300
    )


def test_templates_json_lists_families_versions_and_cases(env) -> None:
    result = promptkit(env, "templates", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    families = {family["name"]: family for family in data["families"]}
    menu = families["menu-analysis"]
    assert [(v["number"], v["label"]) for v in menu["versions"]] == [
        (1, "fewshot-mistake"),
        (2, "fewshot-fixed"),
        (3, "fewshot-constitution"),
    ]
    assert [v["name"] for v in menu["versions"][0]["variables"]] == ["food_likes", "food_dislikes", "menu_item"]
    assert menu["versions"][0]["generation"]["stop_sequences"] == ["\n\n"]
    assert len(menu["cases"]) >= 8
    assert menu["cases"][0]["values"]["menu_item"] == "Quiche Lorraine"
    assert [c["name"] for c in menu["review_criteria"]] == ["respects the dislikes", "reasoning", "tone"]
    assert families["gsm8k-maths"]["review_criteria"] == []
    assert len(families) >= 3
    # Running again imports nothing new.
    assert json.loads(promptkit(env, "templates", "--json").stdout)["families"] == data["families"]


def test_render_prints_the_prompt_exactly(env) -> None:
    expected = {json.loads(line)["source"]: json.loads(line)["prompt"] for line in EXPECTED.read_text().splitlines()}
    for version in ("1", "fewshot-fixed", "fewshot-constitution"):
        result = promptkit(
            env,
            "render",
            "--family",
            "menu-analysis",
            "--version",
            version,
            "--var",
            "food_likes=Cheese",
            "--var",
            "food_dislikes=Can't eat eggs",
            "--var",
            "menu_item=Quiche Lorraine",
        )
        assert result.returncode == 0, result.stderr
        label = {"1": "fewshot-mistake"}.get(version, version)
        assert result.stdout.decode("utf-8") == expected[label]
    by_case = promptkit(env, "render", "--family", "menu-analysis", "--version", "2", "--case", "quiche-cant-eat-eggs")
    assert by_case.stdout.decode("utf-8") == expected["fewshot-fixed"]


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (("--family", "nope", "--version", "1", "--case", "x"), "no template family named 'nope'"),
        (("--family", "menu-analysis", "--version", "9", "--case", "x"), "has no version '9'"),
        (("--family", "menu-analysis", "--version", "1", "--case", "x"), "no test case 'x'"),
        (("--family", "menu-analysis", "--version", "1", "--var", "food_likes=x"), "'food_dislikes' has no value"),
        (("--family", "menu-analysis", "--version", "1", "--var", "oops"), "must look like NAME=VALUE"),
    ],
)
def test_render_errors_exit_non_zero_with_a_message(env, args, phrase) -> None:
    result = promptkit(env, "render", *args)
    assert result.returncode == 2
    assert result.stdout == b""
    assert result.stderr.decode().startswith("error: ")
    assert phrase in result.stderr.decode()


def test_bad_library_file_is_reported_with_file_and_line(env, tmp_path) -> None:
    library = tmp_path / "library"
    library.mkdir()
    (library / "bad.yaml").write_text("family: bad\nversions:\n  - number: 1\n    text: '{{ x'\n")
    result = promptkit(env, "templates", "--templates-dir", str(library))
    assert result.returncode == 2
    assert f"{library / 'bad.yaml'}:4:" in result.stderr.decode()

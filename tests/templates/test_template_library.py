"""The YAML library: shipped families, validation errors naming file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptkit.errors import TemplateError
from promptkit.templates import (
    Expectation,
    ReviewCriterion,
    dump_family,
    load_family_file,
    load_library,
    render_template,
)

GOOD = """\
family: demo
candidate_labels: [Yes, No]
versions:
  - number: 1
    label: first
    text: |-
      Question: {{ question }}
      Answer:
cases:
  - id: one
    values: {question: Is it}
    expect: {labels: [Yes]}
"""


def write(tmp_path: Path, text: str, name: str = "demo.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_library_has_menu_analysis_and_more(library_dir) -> None:
    families = {family.name: family for family in load_library(library_dir)}
    assert len(families) >= 3
    menu = families["menu-analysis"]
    assert set(menu.candidate_labels) == {"Avoid", "Not suitable for you", "You have to try it", "Likely good"}
    assert all(version.generation.stop_sequences == ("\n\n",) for version in menu.versions)
    assert len(menu.cases) >= 8
    expected = [case.expect.labels for case in menu.cases if case.expect]
    # Both outcomes occur, so a prompt that always says "Avoid" fails some cases.
    assert any("You have to try it" in labels for labels in expected)
    assert any("Avoid" in labels for labels in expected)
    assert families["sentiment-classifier"].candidate_labels == ("Positive", "Negative")


def test_every_case_renders_with_every_version(library_dir) -> None:
    for family in load_library(library_dir):
        for version in family.versions:
            for case in family.cases:
                text = render_template(version.text, case.values).text
                assert all(value in text for name, value in case.values.items() if f"{{{{ {name} }}}}" in version.text)


def test_round_trip_through_dump(library_dir, tmp_path) -> None:
    for family in load_library(library_dir):
        again = load_family_file(write(tmp_path, dump_family(family), f"{family.name}.yaml"))
        assert (again.name, again.description, again.candidate_labels) == (
            family.name,
            family.description,
            family.candidate_labels,
        )
        assert again.versions == family.versions
        assert again.cases == family.cases
        assert again.review_criteria == family.review_criteria


@pytest.mark.parametrize(
    ("edit", "line", "phrase"),
    [
        (("Answer:\n", "Answer:\n  bad: [\n"), 9, "invalid YAML"),
        (("    label: first\n", "    label: first\n    colour: red\n"), 6, "unknown key 'colour'"),
        (("    label: first\n", "    label: first\n    label: again\n"), 6, "duplicate key 'label'"),
        (("      Answer:", "      {% if question %}Answer:"), 8, "syntax error"),
        (("      Question: {{ question }}", "      Question: {{ question | nope }}"), 7, "No filter named 'nope'"),
        (("{labels: [Yes]}", "{labels: [Maybe]}"), 12, "not one of the candidate labels"),
        (("values: {question: Is it}", "values: {other: x}"), 11, "no value for question"),
        (("  - number: 1\n", "  - number: one\n"), 4, "whole number"),
        (("    text: |-\n      Question: {{ question }}\n      Answer:\n", ""), 4, "lacks 'text'"),
        (("versions:\n", "review_criteria: [tone]\nversions:\n"), 3, "review_criteria must be a mapping of names to texts"),
        (("versions:\n", "review_criteria:\n  tone: a\n  tone: b\nversions:\n"), 5, "duplicate name 'tone' in review_criteria"),
        (("versions:\n", "review_criteria:\n  tone: [a]\nversions:\n"), 4, "the value of 'tone' must be text"),
    ],
)
def test_invalid_files_name_file_and_line(tmp_path, edit, line, phrase) -> None:
    old, new = edit
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(TemplateError) as caught:
        load_family_file(path)
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert phrase in str(caught.value)


def test_duplicate_family_across_files_is_refused(tmp_path) -> None:
    write(tmp_path, GOOD, "a.yaml")
    write(tmp_path, GOOD, "b.yaml")
    with pytest.raises(TemplateError, match="already defined"):
        load_library(tmp_path)


def test_expectations_check_the_named_line() -> None:
    expect = Expectation(
        line="Recommendation:",
        labels=("Avoid", "Not suitable for you"),
        candidates=("Avoid", "Not suitable for you", "You have to try it", "Likely good"),
        not_contains=("try it",),
        regex=r"\.$",
    )
    assert expect.check("Analysis: eggs.\nRecommendation: Not suitable for you.") == []
    assert expect.check("Analysis: eggs.\nRecommendation: **Avoid**.") == []
    failures = expect.check("Analysis: fine\nRecommendation: You have to try it")
    assert failures == [
        "contains 'try it'",
        "does not match '\\\\.$'",
        "does not start with one of ['Avoid', 'Not suitable for you']",
    ]
    assert expect.check("no recommendation") == ["no output line starts with 'Recommendation:'"]
    assert Expectation(contains=("Transocean",)).check("TRANSOCEAN merges") == []


def test_version_with_max_new_tokens_changes_only_that() -> None:
    from promptkit.templates import GenerationDefaults, Version

    version = Version(number=2, text="t", label="x", generation=GenerationDefaults(max_new_tokens=8, stop_sequences=("\n",)))
    changed = version.with_max_new_tokens(32)
    assert changed.generation == GenerationDefaults(max_new_tokens=32, stop_sequences=("\n",))
    assert (changed.number, changed.text, changed.label) == (2, "t", "x")
    assert version.generation.max_new_tokens == 8


def test_review_criteria_are_read_in_order_with_their_questions(tmp_path) -> None:
    criteria = "review_criteria:\n  tone: Is it friendly?\n  facts:\nversions:\n"
    family = load_family_file(write(tmp_path, GOOD.replace("versions:\n", criteria)))
    assert family.review_criteria == (ReviewCriterion("tone", "Is it friendly?"), ReviewCriterion("facts", ""))
    assert load_family_file(write(tmp_path, GOOD)).review_criteria == ()


def test_the_shipped_menu_analysis_family_has_criteria_to_score(library_dir) -> None:
    (menu,) = [family for family in load_library(library_dir) if family.name == "menu-analysis"]
    assert [criterion.name for criterion in menu.review_criteria] == ["respects the dislikes", "reasoning", "tone"]
    assert all(criterion.question.endswith("?") for criterion in menu.review_criteria)

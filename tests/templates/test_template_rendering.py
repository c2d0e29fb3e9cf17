"""Rendering: exact output, parts that tile the prompt, variables, located errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptkit.errors import TemplateError
from promptkit.templates import (
    MAX_VALUE_BYTES,
    RenderedPrompt,
    TemplateLocationError,
    detect_variables,
    load_library,
    render_template,
)

REPO = Path(__file__).resolve().parents[2]
EXPECTED_PROMPTS = REPO / "tests" / "data" / "menu_analysis_prompts.jsonl"
SHARED_PROMPTS = REPO.parent / "shared" / "reference" / "lit_prompt_examples.jsonl"
MENU_VALUES = {"food_likes": "Cheese", "food_dislikes": "Can't eat eggs", "menu_item": "Quiche Lorraine"}


def assert_tiles(rendered: RenderedPrompt) -> None:
    """Checks that the parts cover the text exactly, in order, without gaps."""
    position = 0
    for part in rendered.parts:
        assert part.start == position
        assert part.end >= part.start
        position = part.end
    assert position == len(rendered.text)


def test_menu_versions_reproduce_the_lit_prompts(library_dir, expected_prompts) -> None:
    menu = next(family for family in load_library(library_dir) if family.name == "menu-analysis")
    assert [version.label for version in menu.versions] == [
        "fewshot-mistake",
        "fewshot-fixed",
        "fewshot-constitution",
    ]
    for version in menu.versions:
        rendered = render_template(version.text, MENU_VALUES)
        assert rendered.text == expected_prompts[version.label]


@pytest.mark.skipif(not SHARED_PROMPTS.exists(), reason="../shared/reference is not checked out beside the repo")
def test_fixture_copy_matches_the_shared_reference() -> None:
    shared = SHARED_PROMPTS.read_text(encoding="utf-8").splitlines()[:3]
    copy = EXPECTED_PROMPTS.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in copy] == [json.loads(line) for line in shared]


def test_menu_parts_separate_examples_and_variables(library_dir) -> None:
    menu = next(family for family in load_library(library_dir) if family.name == "menu-analysis")
    rendered = render_template(menu.versions[0].text, MENU_VALUES)
    assert_tiles(rendered)
    variables = [(p.name, rendered.part_text(p)) for p in rendered.parts if p.kind == "variable"]
    assert variables == [(name, MENU_VALUES[name]) for name in ("food_likes", "food_dislikes", "menu_item")]
    literals = [p for p in rendered.parts if p.kind == "literal"]
    examples = [p for p in literals if rendered.part_text(p).startswith("Taste-likes: I've a sweet-tooth")]
    # Each few-shot example is one part, ending with its blank line.
    assert len(examples) == 3
    assert rendered.part_text(examples[0]).endswith("Recommendation: You have to try it.\n\n")
    assert "Onion soup" in rendered.part_text(examples[0])
    assert len({p.name for p in literals}) == len(literals), "literal part names are unique"
    assert literals[0].name == "Analyze a menu item in a restaurant."
    # Examples are named by their first line of their own, not by the first line they all share.
    assert [p.name for p in examples] == ["Suggestion: Onion soup", "Suggestion: Baguette maison au levain", "Suggestion: Macaron in france"]
    assert rendered.part_text(rendered.parts[-1]) == "\nAnalysis:"


def test_paragraphs_without_a_line_of_their_own_are_numbered() -> None:
    rendered = render_template("Same line\n\nSame line\n\nOwn line\nSame line\n\n{{ x }}", {"x": "v"})
    assert [p.name for p in rendered.parts] == ["Same line", "Same line (2)", "Own line", "x"]


def test_loop_values_are_one_part_per_iteration() -> None:
    text = "Examples:\n{% for e in examples %}- {{ e.text | upper }}\n{% endfor %}Now: {{ query }}"
    rendered = render_template(text, {"examples": [{"text": "a"}, {"text": "b"}], "query": "q"})
    assert rendered.text == "Examples:\n- A\n- B\nNow: q"
    assert_tiles(rendered)
    variables = [(p.name, rendered.part_text(p)) for p in rendered.parts if p.kind == "variable"]
    assert variables == [("e.text", "A"), ("e.text", "B"), ("query", "q")]


def test_macro_output_is_one_part() -> None:
    text = "{% macro shout(x) %}{{ x }}!{% endmacro %}Say {{ shout(word) }} now"
    rendered = render_template(text, {"word": "hi"})
    assert rendered.text == "Say hi! now"
    assert_tiles(rendered)
    assert [(p.name, rendered.part_text(p)) for p in rendered.parts if p.kind == "variable"] == [("shout", "hi!")]


def test_trailing_newline_and_constants_are_literal() -> None:
    rendered = render_template('{{ "A" }} {{ x }}\n', {"x": "b"})
    assert rendered.text == "A b\n"
    assert_tiles(rendered)
    assert [p.kind for p in rendered.parts] == ["literal", "variable", "literal"]


@given(
    chunks=st.lists(st.text(alphabet=st.characters(blacklist_characters="{}%#\ufdd0\ufdd1\ufdd2"), max_size=12), min_size=1, max_size=5),
    values=st.lists(st.text(max_size=12).filter(lambda v: not re.search("[\ufdd0-\ufdd2]", v)), min_size=5, max_size=5),
)
def test_parts_tile_any_simple_template(chunks: list[str], values: list[str]) -> None:
    text = "".join(f"{chunk}{{{{ v{index} }}}}" for index, chunk in enumerate(chunks))
    supplied = {f"v{index}": value for index, value in enumerate(values)}
    rendered = render_template(text, supplied)
    assert_tiles(rendered)
    parts = [p for p in rendered.parts if p.kind == "variable"]
    assert [(p.name, rendered.part_text(p)) for p in parts] == [(f"v{i}", values[i]) for i in range(len(chunks))]
    assert all(rendered.part_text(p) for p in rendered.parts if p.kind == "literal")


def test_detect_variables_in_order_with_positions() -> None:
    text = "Review:\n{{ review }}\n\n{% for x in items %}{{ x }} {{ label }}{% endfor %}{% set y = 1 %}{{ y }} {{ range(2) | list }}"
    variables = detect_variables(text)
    assert [(v.name, v.first_position, v.multiline) for v in variables] == [
        ("review", (2, 4), True),
        ("items", (4, 13), False),
        ("label", (4, 32), False),
    ]


@pytest.mark.parametrize(
    ("text", "values", "position", "phrase"),
    [
        ("Hello\n  {{ name }", {"name": "x"}, (2, 3), "syntax error"),
        ("a\n{% for x in xs %}", {"xs": []}, (2, 1), "syntax error"),
        ("a\nb {{ name | shoutify }}", {"name": "x"}, (2, 13), "No filter named 'shoutify'"),
        ("a\nb {{ first }} {{ second }}", {"first": "x"}, (2, 18), "variable 'second' has no value"),
        ("{{ person.nmae }}", {"person": {"name": "x"}}, (1, 11), "undefined"),
        ("x\n{% include 'other.txt' %}", {}, (2, 1), "'include' is not allowed"),
    ],
)
def test_errors_give_line_and_column(text, values, position, phrase) -> None:
    with pytest.raises(TemplateLocationError) as caught:
        render_template(text, values)
    assert (caught.value.line, caught.value.column) == position
    assert phrase in str(caught.value)
    assert str(caught.value).startswith(f"line {position[0]}, column {position[1]}: ")


def test_none_value_counts_as_missing() -> None:
    with pytest.raises(TemplateLocationError, match="'x' has no value"):
        render_template("{{ x }}", {"x": None})


def test_value_over_one_megabyte_is_refused() -> None:
    render_template("{{ x }}", {"x": "a" * MAX_VALUE_BYTES})
    with pytest.raises(TemplateLocationError, match="over the limit") as caught:
        render_template("ok\n  {{ x }}", {"x": "é" * (MAX_VALUE_BYTES // 2 + 1)})
    assert (caught.value.line, caught.value.column) == (2, 6)


def test_reserved_marker_characters_are_refused() -> None:
    with pytest.raises(TemplateError, match="reserved character"):
        render_template("{{ x }}", {"x": "a\ufdd0b"})

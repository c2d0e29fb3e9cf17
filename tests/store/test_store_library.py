"""Importing templates/ into the store: idempotent, edits become versions, export."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptkit.errors import TemplateError
from promptkit.store import Store
from promptkit.templates import load_family_file, load_library

REPO = Path(__file__).resolve().parents[2]


def snapshot(store: Store) -> list:
    return [(f, store.list_runs(family=f.name)) for f in store.list_families()]


def test_import_is_idempotent(store: Store, templates_dir: Path) -> None:
    first = store.import_library(templates_dir=templates_dir)
    assert "menu-analysis" in first.families_added
    assert ("menu-analysis", 3) in first.versions_added
    before = snapshot(store)
    second = store.import_library(templates_dir=templates_dir)
    assert not second.changed
    assert snapshot(store) == before
    menu = store.get_family(name="menu-analysis")
    assert [(v.number, v.label, v.parent) for v in menu.versions] == [
        (1, "fewshot-mistake", None),
        (2, "fewshot-fixed", 1),
        (3, "fewshot-constitution", 2),
    ]
    assert len(menu.cases) >= 8


def test_edited_file_becomes_a_new_version(store: Store, templates_dir: Path) -> None:
    store.import_library(templates_dir=templates_dir)
    path = templates_dir / "menu-analysis.yaml"
    text = path.read_text(encoding="utf-8")
    edited = text.replace(
        "* The analysis should be brief and to the point.",
        "* The analysis should be brief, one sentence.",
    ).replace("menu_item: Chocolate mousse", "menu_item: Dark chocolate mousse")
    assert edited != text
    path.write_text(edited, encoding="utf-8")
    report = store.import_library(templates_dir=templates_dir)
    assert report.versions_added == (("menu-analysis", 4),)
    assert report.cases_changed == (("menu-analysis", "chocolate-lover-mousse"),)
    fourth = store.get_version(family="menu-analysis", version=4)
    assert "one sentence" in fourth.text
    # Edited from version 3, whose label it cannot share; version 3 is unchanged.
    assert (fourth.parent, fourth.label) == (3, None)
    assert "edited" in fourth.note.lower()
    assert "to the point" in store.get_version(family="menu-analysis", version="fewshot-constitution").text
    assert store.get_case(family="menu-analysis", case_id="chocolate-lover-mousse").values["menu_item"] == (
        "Dark chocolate mousse"
    )
    assert not store.import_library(templates_dir=templates_dir).changed


def test_export_writes_a_file_that_reimports_unchanged(store: Store, templates_dir: Path, tmp_path: Path) -> None:
    store.import_library(templates_dir=templates_dir)
    store.add_version(family="menu-analysis", text="New {{ menu_item }}", author="ui", note="from the app", label="ui")
    exported = store.export_family(name="menu-analysis", templates_dir=tmp_path / "out")
    family = load_family_file(exported)
    assert [v.number for v in family.versions] == [1, 2, 3, 4]
    assert family.versions[3].note == "from the app"
    assert family.cases == store.get_family(name="menu-analysis").cases
    assert not store.import_library(templates_dir=tmp_path / "out").changed


def test_exported_shipped_families_equal_the_files(store: Store, templates_dir: Path, tmp_path: Path) -> None:
    store.import_library(templates_dir=templates_dir)
    for original in load_library(REPO / "templates"):
        again = load_family_file(store.export_family(name=original.name, templates_dir=tmp_path))
        assert again.versions == original.versions
        assert again.cases == original.cases


@pytest.mark.parametrize(
    ("bad_text", "phrase"),
    [
        ("family: broken\nversions:\n  - number: 1\n    text: [unclosed\n", "invalid YAML"),
        ("family: broken\nversions:\n  - number: 1\n    text: |-\n      {{ x | nope }}\n", "No filter named"),
    ],
)
def test_bad_file_is_reported_and_nothing_is_imported(
    store: Store, templates_dir: Path, bad_text: str, phrase: str
) -> None:
    store.import_library(templates_dir=templates_dir)
    before = snapshot(store)
    # A new good family and an edit beside the bad file must not be half-imported.
    (templates_dir / "extra.yaml").write_text(
        "family: extra\nversions:\n  - number: 1\n    text: Hi {{ name }}\n", encoding="utf-8"
    )
    bad = templates_dir / "zz-broken.yaml"
    bad.write_text(bad_text, encoding="utf-8")
    with pytest.raises(TemplateError) as caught:
        store.import_library(templates_dir=templates_dir)
    assert str(caught.value).startswith(f"{bad}:")
    assert phrase in str(caught.value)
    assert snapshot(store) == before


def test_a_case_edited_in_the_store_survives_imports_until_the_file_changes_it(store: Store, templates_dir: Path) -> None:
    import dataclasses

    store.import_library(templates_dir=templates_dir)
    case = store.get_case(family="menu-analysis", case_id="chocolate-lover-mousse")
    edited = dataclasses.replace(case, values={**case.values, "food_likes": "Chocolate, and lots of it"})
    store.import_cases(family="menu-analysis", cases=(edited,))  # e.g. from a spreadsheet
    assert not store.import_library(templates_dir=templates_dir).changed  # the file did not change: the edit stays
    assert store.get_case(family="menu-analysis", case_id="chocolate-lover-mousse") == edited
    path = templates_dir / "menu-analysis.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("Chocolate mousse", "Dark chocolate mousse"), encoding="utf-8")
    report = store.import_library(templates_dir=templates_dir)  # the file changed the case: the file wins
    assert report.cases_changed == (("menu-analysis", "chocolate-lover-mousse"),)
    assert store.get_case(family="menu-analysis", case_id="chocolate-lover-mousse").values["menu_item"] == "Dark chocolate mousse"

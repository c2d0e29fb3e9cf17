"""`Store.import_cases`: add and update a family's test cases in one transaction, on each backend."""

from __future__ import annotations

import re

import pytest

from promptkit.errors import StoreError
from promptkit.store import Store
from promptkit.templates import Expectation, TestCase

LABELS = ("Avoid", "Likely good")


@pytest.fixture
def family(store: Store) -> str:
    """A family with a version and two cases."""
    store.add_family(name="menu", candidate_labels=LABELS)
    store.add_version(family="menu", text="Dish: {{ dish }}", author="ana", note="first")
    store.import_cases(
        family="menu",
        cases=(
            TestCase(id="soup", values={"dish": "Soup"}),
            TestCase(id="bread", values={"dish": "Bread"}, expect=Expectation(labels=("Avoid",), candidates=LABELS)),
        ),
    )
    return "menu"


def test_adds_new_cases_updates_stored_ones_and_keeps_the_rest(store: Store, family: str) -> None:
    updated_soup = TestCase(
        id="soup", values={"dish": "Soupe à l'oignon"}, expect=Expectation(labels=("Likely good",), candidates=LABELS)
    )
    stew = TestCase(id="stew", values={"dish": "=Stew"}, expect=Expectation(contains=("beef",), line="Answer:"))
    report = store.import_cases(family=family, cases=(updated_soup, stew))
    assert report.cases_changed == (("menu", "soup"), ("menu", "stew"))
    assert [case.id for case in store.get_family(name=family).cases] == ["soup", "bread", "stew"]
    assert store.get_case(family=family, case_id="soup") == updated_soup
    assert store.get_case(family=family, case_id="stew") == stew
    assert store.import_cases(family=family, cases=(updated_soup, stew)).cases_changed == ()


@pytest.mark.parametrize(
    ("cases", "message"),
    [
        ((TestCase(id="new", values={"dish": "x"}), TestCase(id="new", values={"dish": "y"})), "appears twice"),
        ((TestCase(id="new", values={"dish": "x"}), TestCase(id=" ", values={"dish": "y"})), "must be non-blank"),
        ((TestCase(id="x" * 201, values={"dish": "y"}),), "at most 200 characters"),
        (
            (
                TestCase(id="soup", values={"dish": "changed"}),
                TestCase(id="new", values={"dish": "y"}, expect=Expectation(labels=("Maybe",), candidates=LABELS)),
            ),
            "expects label 'Maybe', which is not among the candidates",
        ),
        (
            (TestCase(id="new", values={"dish": "y"}, expect=Expectation(labels=("Maybe",))),),
            "not among the candidates ['Avoid', 'Likely good']",
        ),
    ],
)
def test_an_invalid_case_writes_nothing(store: Store, family: str, cases: tuple[TestCase, ...], message: str) -> None:
    before = store.get_family(name=family).cases
    with pytest.raises(StoreError, match=re.escape(message)):
        store.import_cases(family=family, cases=cases)
    assert store.get_family(name=family).cases == before


def test_unknown_family_is_a_store_error(store: Store) -> None:
    with pytest.raises(StoreError, match="no template family named 'nope'"):
        store.import_cases(family="nope", cases=(TestCase(id="a", values={}),))

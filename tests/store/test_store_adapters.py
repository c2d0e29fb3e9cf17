"""Adapter records on SQLite and PostgreSQL: recorded, found, listed newest first, names unique."""

from __future__ import annotations

from typing import Any

import pytest

from promptkit.errors import StoreError
from promptkit.store import Store


@pytest.fixture
def family(store: Store) -> str:
    store.add_family(name="dishes", candidate_labels=("Avoid", "Likely good"))
    store.add_version(family="dishes", text="Dish: {{ dish }}\nAnswer:", author="ann", note="first")
    store.add_family(name="other")
    store.add_version(family="other", text="Q: {{ q }}", author="ann", note="first")
    return "dishes"


def _adapter(store: Store, name: str, **changes: Any) -> Any:
    fields: dict[str, Any] = {
        "name": name,
        "base_model": "tiny:gemma3",
        "family": "dishes",
        "version": 1,
        "data_hash": "ab" * 32,
        "rank": 4,
        "epochs": 2,
        "seed": 7,
        "settings": {"learning_rate": 5e-4, "batch_size": 4},
        "metrics": {"test_metrics": {"before": {"accuracy": 0.5}, "after": {"accuracy": 0.75}}, "labels": ("Avoid",)},
        "created_by": "ann",
    }
    return store.add_adapter(**{**fields, **changes})


def test_an_adapter_is_recorded_found_and_listed(store: Store, family: str) -> None:
    first = _adapter(store, "dishes-a")
    second = _adapter(store, "other-a", family="other", version="1", rank=8)
    assert (first.name, first.family, first.version, first.rank, first.epochs, first.seed) == ("dishes-a", "dishes", 1, 4, 2, 7)
    assert first.metrics["labels"] == ["Avoid"]  # stored as JSON
    assert first.created_at.tzinfo is not None and first.created_by == "ann"
    assert store.find_adapter("dishes-a") == first
    assert store.find_adapter("nothing") is None
    assert [a.name for a in store.list_adapters()] == ["other-a", "dishes-a"]
    assert [a.name for a in store.list_adapters(family="dishes")] == ["dishes-a"]
    assert second.family == "other" and second.version == 1


def test_a_bad_adapter_record_is_refused_and_nothing_is_stored(store: Store, family: str) -> None:
    _adapter(store, "dishes-a")
    with pytest.raises(StoreError, match="an adapter named 'dishes-a' exists already"):
        _adapter(store, "dishes-a")
    with pytest.raises(StoreError, match="no version 9"):
        _adapter(store, "b", version=9)
    with pytest.raises(StoreError, match="no template family named 'nope'"):
        _adapter(store, "c", family="nope")
    with pytest.raises(StoreError, match="cannot be stored as JSON"):
        _adapter(store, "d", metrics={"loss": float("nan")})
    assert [a.name for a in store.list_adapters()] == ["dishes-a"]

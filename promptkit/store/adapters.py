"""Store methods for trained LoRA adapters: recorded once trained, listed, looked up by name.

The adapter's weights live in the model cache of the machine that trained
it (`promptkit.models.lora.adapter_dir`); the store keeps what it was
trained on and how it did, for everyone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from promptkit.errors import StoreError
from promptkit.store import queries
from promptkit.store.schema import AdapterRow, FamilyRow

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class AdapterRecord:
    """A trained adapter as stored.

    Attributes:
        name: the adapter's name (`BASE+adapter:NAME` loads it).
        base_model: the model it was trained on.
        family: the family whose cases it was trained on.
        version: the number of the prompt version it was trained with.
        data_hash: SHA-256 of the examples (case ids, prompts, labels, splits).
        rank: the LoRA rank.
        epochs: epochs run (early stopping may end training before the epochs asked).
        seed: the training seed.
        settings: every training setting, JSON-ready.
        metrics: split sizes, the training history and the test split's
            metrics before and after, JSON-ready.
        created_by: who trained it.
        created_at: when it was recorded.
    """

    name: str
    base_model: str
    family: str
    version: int
    data_hash: str
    rank: int
    epochs: int
    seed: int
    settings: Mapping[str, Any]
    metrics: Mapping[str, Any]
    created_by: str
    created_at: datetime


class AdaptersMixin:
    """Adapters; mixed into `Store`."""

    if TYPE_CHECKING:
        # Implemented by `Store`; declared here so the mixin's returns keep their types.
        def _read(self, work: Callable[[Session], T]) -> T: ...

        def _write(self, work: Callable[[Session], T]) -> T: ...

    def add_adapter(
        self,
        *,
        name: str,
        base_model: str,
        family: str,
        version: int,
        data_hash: str,
        rank: int,
        epochs: int,
        seed: int,
        settings: Mapping[str, Any],
        metrics: Mapping[str, Any],
        created_by: str,
    ) -> AdapterRecord:
        """Records a trained adapter.

        Args:
            name: its name, unique in the store.
            base_model: the model it was trained on.
            family: the family's name.
            version: the prompt version's number; it must exist.
            data_hash: SHA-256 hex digest of the examples.
            rank: the LoRA rank.
            epochs: epochs run.
            seed: the training seed.
            settings: every training setting, JSON-ready.
            metrics: how it did, JSON-ready.
            created_by: who trained it (a person's key).

        Returns:
            The stored record.

        Raises:
            StoreError: If the name is taken, the family or version does not
                exist, or a value is not JSON; nothing is stored then.
        """
        payload = {
            "settings": queries.as_json(dict(settings), what="settings"),
            "metrics": queries.as_json(dict(metrics), what="metrics"),
        }

        def work(session: Session) -> AdapterRecord:
            if session.scalar(select(AdapterRow.id).where(AdapterRow.name == name)) is not None:
                raise StoreError(f"an adapter named {name!r} exists already; choose another name.")
            family_row = queries.family_row(session, family)
            row = AdapterRow(
                name=name,
                base_model=base_model,
                family_id=family_row.id,
                version_number=queries.version_row(session, family_row, version).number,
                data_hash=data_hash,
                rank=rank,
                epochs=epochs,
                seed=seed,
                created_by=created_by,
                **payload,
            )
            session.add(row)
            session.flush()
            return _adapter_record(row, family=family_row.name)

        return self._write(work)

    def find_adapter(self, name: str) -> AdapterRecord | None:
        """The adapter called `name`, or None."""

        def work(session: Session) -> AdapterRecord | None:
            row = session.scalar(select(AdapterRow).where(AdapterRow.name == name))
            return None if row is None else _adapter_record(row, family=session.get_one(FamilyRow, row.family_id).name)

        return self._read(work)

    def list_adapters(self, *, family: str | None = None) -> list[AdapterRecord]:
        """Lists adapters, newest first.

        Args:
            family: Only those trained on this family's cases (default: all).

        Raises:
            StoreError: If the family does not exist.
        """

        def work(session: Session) -> list[AdapterRecord]:
            query = select(AdapterRow, FamilyRow.name).join(FamilyRow, FamilyRow.id == AdapterRow.family_id)
            if family is not None:
                query = query.where(AdapterRow.family_id == queries.family_row(session, family).id)
            rows = session.execute(query.order_by(AdapterRow.id.desc()))
            return [_adapter_record(row, family=family_name) for row, family_name in rows]

        return self._read(work)


def _adapter_record(row: AdapterRow, *, family: str) -> AdapterRecord:
    return AdapterRecord(
        name=row.name,
        base_model=row.base_model,
        family=family,
        version=row.version_number,
        data_hash=row.data_hash,
        rank=row.rank,
        epochs=row.epochs,
        seed=row.seed,
        settings=dict(row.settings),
        metrics=dict(row.metrics),
        created_by=row.created_by,
        created_at=queries.utc(row.created_at),
    )

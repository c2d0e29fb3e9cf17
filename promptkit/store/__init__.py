"""The promptkit store: templates, versions, cases, runs, salience and reviews.

Public API:
    Store.open(*, url=None) -> Store   (PROMPTKIT_DB_URL, else SQLite file)
    records: FamilyRecord, VersionRecord, RunRecord, SalienceRecord,
             ReviewRecord, ImportReport
"""

from promptkit.store.engine import resolve_url
from promptkit.store.records import (
    FamilyRecord,
    ImportReport,
    ReviewRecord,
    RunRecord,
    SalienceRecord,
    VersionRecord,
)
from promptkit.store.store import Store

__all__ = [
    "FamilyRecord",
    "ImportReport",
    "ReviewRecord",
    "RunRecord",
    "SalienceRecord",
    "Store",
    "VersionRecord",
    "resolve_url",
]

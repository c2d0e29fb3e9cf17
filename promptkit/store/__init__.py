"""The promptkit store: templates, versions, cases, runs, comparisons, salience and reviews.

Public API:
    Store.open(*, url=None) -> Store   (PROMPTKIT_DB_URL, else SQLite file)
    records: FamilyRecord, VersionRecord, RunRecord, SalienceRecord,
             ReviewRecord, ComparisonRecord, ComparisonCellRecord, ImportReport,
             TokenMatrixRecord
"""

from promptkit.store.engine import resolve_url
from promptkit.store.records import (
    ComparisonCellRecord,
    ComparisonRecord,
    FamilyRecord,
    ImportReport,
    ReviewRecord,
    RunRecord,
    SalienceRecord,
    TokenMatrixRecord,
    VersionRecord,
)
from promptkit.store.store import Store

__all__ = [
    "ComparisonCellRecord",
    "ComparisonRecord",
    "FamilyRecord",
    "ImportReport",
    "ReviewRecord",
    "RunRecord",
    "SalienceRecord",
    "Store",
    "TokenMatrixRecord",
    "VersionRecord",
    "resolve_url",
]

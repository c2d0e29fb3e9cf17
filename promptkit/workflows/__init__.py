"""The jobs users do, one function each, called alike by the CLI and the dashboard.

A workflow takes what the user picked, calls the library and the store, and
returns records; neither front end assembles those calls itself.

Public API:
    check_request(store, request, *, actor)                       (before loading a model)
    run_comparison(store, model, request, *, actor, scorer=None, progress=None) -> StoredComparison
    load_comparison(store, comparison_id) -> StoredComparison      (no model needed)
    comparison_report(store, comparison_id, *, actor) -> HTML text  (no model needed)
    write_comparison_report(store, comparison_id, path, *, actor)
    save_version(store, *, actor, family, parent, text, note) -> VersionRecord
    record_playground_run(store, *, actor, ...) -> (run, new version number or None)
    give_verdict(store, *, actor, verdict, comment, run_id | subject + comparison_id) -> ReviewRecord
    set_review_task(store, *, actor, comparison_id, ...) -> ReviewTaskRecord
    review_items(store, *, actor, task_id) -> [ReviewItem]            (blind, per reviewer)
    judge_item(store, *, actor, task_id, case_id, pair, verdict)
    task_summary(store, *, actor, task_id) -> `reviews --task` JSON
    case_from_judgements(store, *, actor, task_id, case_id, pair) -> TestCase  (the agreed answer expected)
"""

from promptkit.workflows.compare import (
    ComparisonRequest,
    StoredComparison,
    check_request,
    load_comparison,
    run_comparison,
)
from promptkit.workflows.playground import give_verdict, record_playground_run, save_version
from promptkit.workflows.report import comparison_report, write_comparison_report
from promptkit.workflows.review import (
    ReviewItem,
    case_from_judgements,
    judge_item,
    review_items,
    set_review_task,
    task_summary,
)

__all__ = [
    "ComparisonRequest",
    "ReviewItem",
    "StoredComparison",
    "case_from_judgements",
    "check_request",
    "comparison_report",
    "give_verdict",
    "judge_item",
    "load_comparison",
    "record_playground_run",
    "review_items",
    "run_comparison",
    "save_version",
    "set_review_task",
    "task_summary",
    "write_comparison_report",
]

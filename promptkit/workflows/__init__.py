"""The jobs users do, one function each, called alike by the CLI and the dashboard.

A workflow takes what the user picked, calls the library and the store, and
returns records; neither front end assembles those calls itself.

Public API:
    check_request(request)                                        (before loading a model)
    run_comparison(store, model, request, *, created_by, scorer=None, progress=None) -> StoredComparison
    load_comparison(store, comparison_id) -> StoredComparison      (no model needed)
    comparison_report(store, comparison_id) -> HTML text           (no model needed)
    write_comparison_report(store, comparison_id, path)
"""

from promptkit.workflows.compare import (
    ComparisonRequest,
    StoredComparison,
    check_request,
    load_comparison,
    run_comparison,
)
from promptkit.workflows.report import comparison_report, write_comparison_report

__all__ = [
    "ComparisonRequest",
    "StoredComparison",
    "check_request",
    "comparison_report", "load_comparison", "run_comparison", "write_comparison_report"]

"""The offline HTML report of a stored comparison: the one builder every route uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from promptkit.evaluation.report import ReviewNote, render_report
from promptkit.evaluation.runs import stored_heatmaps, stored_matrix_figures
from promptkit.people import PermissionDenied, Role
from promptkit.store import ReviewRecord, RunRecord, Store
from promptkit.workflows.compare import load_comparison
from promptkit.workflows.review import task_summary


def comparison_report(store: Store, comparison_id: int, *, actor: str, with_matrices: bool = False) -> str:
    """Builds a stored comparison's report from the store alone, without running the model.

    The same comparison gives the same page to the same person, whichever
    front end asks: the results, the salience heatmaps stored for its runs,
    the reviews of the comparison and of its runs, the results of its
    blind review tasks that the person may see (all for an editor; a
    reviewer's own once they finished them), and the training curve and
    before/after metrics of each adapter in its columns.

    Args:
        store: the store holding the comparison.
        comparison_id: the comparison's id.
        actor: who asks (a person's key).
        with_matrices: also the token-by-token matrices stored for its runs.

    Returns:
        The HTML text, self-contained and offline.

    Raises:
        PermissionDenied: If the actor may not see comparisons.
        StoreError: If there is no such comparison.
        PromptkitError: If it has no stored cells.
    """
    store.require(actor, Role.VIEWER, action="see a comparison's report")
    stored = load_comparison(store, comparison_id)
    run_ids = [cell.run_id for cell in stored.record.cells if cell.run_id is not None]
    runs = store.list_runs(ids=run_ids)
    runs_by_id = {run.id: run for run in runs}
    reviews = [
        review
        for review in store.list_reviews()
        if review.comparison_id == comparison_id or review.run_id in runs_by_id
    ]
    ordered = sorted(runs, key=lambda run: run.id)
    return render_report(
        stored.result,
        salience=stored_heatmaps(store, ordered),
        matrix_figures=stored_matrix_figures(store, ordered) if with_matrices else None,
        title=f"{stored.record.family}: comparison #{comparison_id}",
        created=stored.record.created_at,
        reviews=[_note(review, runs_by_id) for review in reviews],
        review_tasks=_visible_task_summaries(store, comparison_id, actor=actor),
        adapters=[
            record
            for name in dict.fromkeys(column.adapter for column in stored.record.columns if column.adapter)
            if (record := store.find_adapter(name)) is not None
        ],
    )


def write_comparison_report(
    store: Store, comparison_id: int, path: Path, *, actor: str, with_matrices: bool = False
) -> None:
    """Writes `comparison_report` to `path` as UTF-8."""
    path.write_text(comparison_report(store, comparison_id, actor=actor, with_matrices=with_matrices), encoding="utf-8")


def _visible_task_summaries(store: Store, comparison_id: int, *, actor: str) -> list[dict[str, Any]]:
    summaries = []
    for task in sorted(store.list_review_tasks(comparison_id=comparison_id), key=lambda task: task.id):
        try:
            summaries.append(task_summary(store, actor=actor, task_id=task.id))
        except PermissionDenied:
            continue  # Blind until this person has judged every item; their report leaves it out.
    return summaries


def _note(review: ReviewRecord, runs_by_id: dict[int, RunRecord]) -> ReviewNote:
    run = runs_by_id.get(review.run_id) if review.run_id is not None else None
    about = (
        f"run #{run.id} · v{run.version} · {run.case_id or 'ad hoc'}" if run is not None else "this comparison"
    )
    return ReviewNote(
        when=review.created_at.strftime("%Y-%m-%d %H:%M"),
        about=about,
        verdict=review.verdict,
        comment=review.comment,
        reviewer=review.reviewer,
    )

"""Comparing versions: run the matrix here or on workers, store it cell by cell, resume it, read it back."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from promptkit.errors import PromptkitError
from promptkit.evaluation.cases import select_versions
from promptkit.evaluation.checks import CheckResult, run_checks
from promptkit.evaluation.matrix import DEFAULT_BATCH_SIZE, Engine, LocalEngine, Progress, run_matrix_on
from promptkit.evaluation.results import Cell, MatrixResult, summarise
from promptkit.evaluation.runs import RecordingSink
from promptkit.models.api import CandidateScorer, LanguageModel
from promptkit.people import Role
from promptkit.store import ComparisonCellRecord, ComparisonRecord, FamilyRecord, RunRecord, Store
from promptkit.templates import Family, TestCase, Version

# Stored with a comparison's settings: whether its cells have outcome likelihoods.
_SCORED = "outcome_likelihoods"


@dataclasses.dataclass(frozen=True)
class ComparisonRequest:
    """What the user asked to compare.

    Attributes:
        family: the family's name.
        versions: version numbers or labels, the baseline first.
        cases: the test cases; None for the family's own.
        max_new_tokens: overrides each version's own limit when given.
        samples: K seeded samples per cell for stability (0: none).
        batch_size: most prompts per model call.
    """

    family: str
    versions: Sequence[int | str]
    cases: tuple[TestCase, ...] | None = None
    max_new_tokens: int | None = None
    samples: int = 0
    batch_size: int = DEFAULT_BATCH_SIZE

    def settings(self) -> dict[str, int | None]:
        """The settings stored with the comparison."""
        return {"max_new_tokens": self.max_new_tokens, "samples": self.samples, "batch_size": self.batch_size}


@dataclasses.dataclass(frozen=True)
class StoredComparison:
    """A comparison as stored, with its results rebuilt.

    Attributes:
        record: the stored comparison (id, who, when, cells with run ids).
        result: the matrix: completions, checks, likelihoods, stability, summaries.
    """

    record: ComparisonRecord
    result: MatrixResult

    def run_id(self, version: int, case_id: str) -> int | None:
        """The run holding a cell's completion, if it has one."""
        for cell in self.record.cells:
            if cell.version == version and cell.case_id == case_id:
                return cell.run_id
        return None


def run_comparison(
    store: Store,
    model: LanguageModel,
    request: ComparisonRequest,
    *,
    actor: str,
    scorer: CandidateScorer | None = None,
    progress: Progress | None = None,
) -> StoredComparison:
    """Runs every version on every case in this process and stores the comparison, cell by cell.

    Args:
        store: where the family is read and the runs and comparison go.
        model: generates the completions.
        request: what to compare.
        actor: who starts it (a person's key); an editor.
        scorer: scores the family's candidate labels (outcome likelihoods);
            None leaves them out.
        progress: called as `(done, total)` work units.

    Returns:
        The stored comparison and its results.

    Raises:
        PermissionDenied: If the actor is not an editor; nothing is run then.
        PromptkitError: If the request is invalid (unknown family, version or
            label, too few versions, no cases, bad numbers); nothing is run then.
    """
    return run_comparison_on(store, LocalEngine(model, scorer), request, actor=actor, progress=progress)


def run_comparison_on(
    store: Store,
    engine: Engine,
    request: ComparisonRequest,
    *,
    actor: str,
    progress: Progress | None = None,
) -> StoredComparison:
    """Runs every version on every case with an engine and stores the comparison, cell by cell.

    Each batch's cells are stored as soon as the batch is back, so a run
    that stops (or a driver that dies) leaves the comparison unfinished with
    every finished cell kept; `resume_comparison` completes it.

    Args:
        store: where the family is read and the runs and comparison go.
        engine: completes the cells (`LocalEngine`, or a pool of workers);
            it scores the candidate labels if it can and the family has any.
        request: what to compare.
        actor: who starts it (a person's key); an editor.
        progress: called as `(done, total)` work units.

    Returns:
        The stored comparison and its results.

    Raises:
        PermissionDenied: If the actor is not an editor; nothing is run then.
        PromptkitError: If the request is invalid (unknown family, version or
            label, too few versions, no cases, bad numbers); nothing is run then.
    """
    check_request(store, request, actor=actor)
    record = store.get_family(name=request.family)
    available = tuple(version.as_version() for version in record.versions)
    versions = select_versions(available, [str(ref) for ref in request.versions], family=record.name)
    if request.max_new_tokens is not None:
        versions = tuple(version.with_max_new_tokens(request.max_new_tokens) for version in versions)
    cases = record.cases if request.cases is None else request.cases
    if not cases:
        raise PromptkitError(f"Family {record.name!r} has no test cases; pass a case file or add cases to it.")
    family = Family(
        name=record.name,
        description=record.description,
        candidate_labels=record.candidate_labels,
        versions=available,
        cases=record.cases,
    )
    scored = engine.scores and bool(family.candidate_labels)
    comparison = store.start_comparison(
        family=family.name,
        versions=[version.number for version in versions],
        cases=cases,
        model=engine.model_name,
        settings={**request.settings(), _SCORED: scored},
        created_by=actor,
    )
    return _complete(
        store, engine, comparison.id, family, versions, tuple(cases), scored=scored, samples=request.samples,
        batch_size=request.batch_size, actor=actor, progress=progress,
    )


def check_resume(store: Store, comparison_id: int, *, actor: str) -> ComparisonRecord:
    """The unfinished comparison to resume, refusing one that cannot be, before any model is loaded.

    Args:
        store: where the comparison is.
        comparison_id: the comparison.
        actor: who resumes it (a person's key); an editor.

    Returns:
        The comparison as stored, with the cells it has.

    Raises:
        PermissionDenied: If the actor is not an editor.
        StoreError: If there is no such comparison.
        PromptkitError: If it is finished, or was recorded before comparisons
            kept their cells.
    """
    store.require(actor, Role.EDITOR, action="resume a comparison")
    record = store.get_comparison(comparison_id)
    if record.finished_at is not None:
        raise PromptkitError(
            f"Comparison {comparison_id} is finished already ({len(record.cells)} cells); there is nothing to resume. "
            "Start a new comparison to run it again."
        )
    if not record.model:
        raise PromptkitError(
            f"Comparison {comparison_id} was recorded before comparisons kept their cells; it cannot be resumed. "
            f"Run it again (versions {', '.join(f'v{n}' for n in record.versions)} of {record.family})."
        )
    return record


def resume_comparison(
    store: Store,
    engine: Engine,
    comparison_id: int,
    *,
    actor: str,
    progress: Progress | None = None,
) -> StoredComparison:
    """Finishes an unfinished comparison: runs only its missing cells, as recorded, then marks it finished.

    The versions, cases, settings and model are the comparison's own; the
    cells it has are kept as stored.

    Args:
        store: where the comparison is.
        engine: completes the missing cells; its model must be the
            comparison's, and it must score if the comparison did.
        comparison_id: the comparison.
        actor: who resumes it (a person's key); an editor.
        progress: called as `(done, total)` work units of the missing cells.

    Returns:
        The finished comparison and its results, all cells.

    Raises:
        PermissionDenied: If the actor is not an editor.
        StoreError: If there is no such comparison.
        PromptkitError: If it is finished or too old to resume, or the engine
            has another model or cannot score as the comparison did.
    """
    record = check_resume(store, comparison_id, actor=actor)
    if engine.model_name != record.model:
        raise PromptkitError(
            f"Comparison {comparison_id} was run with {record.model}; resume it with that model "
            f"(--model {record.model!r}), not {engine.model_name}."
        )
    family_record = store.get_family(name=record.family)
    family = Family(
        name=family_record.name,
        description=family_record.description,
        candidate_labels=family_record.candidate_labels,
        versions=tuple(version.as_version() for version in family_record.versions),
        cases=family_record.cases,
    )
    scored = bool(record.settings.get(_SCORED, bool(family.candidate_labels)))
    if scored and not engine.scores:
        raise PromptkitError(
            f"Comparison {comparison_id} measured outcome likelihoods; resume it with a scorer so its cells match."
        )
    runs = {run.id: run for run in store.list_runs(ids=[c.run_id for c in record.cells if c.run_id is not None])}
    case_index = {case.id: case for case in record.cases}
    finished = [_cell(stored, case_index[stored.case_id], runs) for stored in record.cells]
    return _complete(
        store, engine, comparison_id, family, _recorded_versions(family_record, record), record.cases, scored=scored,
        samples=int(record.settings.get("samples") or 0),
        batch_size=int(record.settings.get("batch_size") or DEFAULT_BATCH_SIZE), actor=actor, progress=progress,
        finished=finished,
    )


def _complete(
    store: Store,
    engine: Engine,
    comparison_id: int,
    family: Family,
    versions: tuple[Version, ...],
    cases: tuple[TestCase, ...],
    *,
    scored: bool,
    samples: int,
    batch_size: int,
    actor: str,
    progress: Progress | None,
    finished: Sequence[Cell] = (),
) -> StoredComparison:
    """Runs a started comparison's cells not in `finished`, storing each batch's as it comes, and finishes it."""
    sink = RecordingSink(store, created_by=actor)

    def keep(cells: Sequence[Cell]) -> None:
        store.add_comparison_cells(
            comparison_id,
            [
                ComparisonCellRecord(
                    version=cell.version,
                    case_id=cell.case,
                    run_id=sink.run_ids.get((cell.version, cell.prompt)) if cell.prompt is not None else None,
                    prompt=cell.prompt,
                    outcome_likelihoods=dict(cell.outcome_likelihoods),
                    samples=cell.samples,
                    agreement=cell.agreement,
                    error=cell.error,
                )
                for cell in cells
            ],
        )

    result = run_matrix_on(
        engine,
        family,
        versions=versions,
        cases=cases,
        score=scored,
        samples=samples,
        batch_size=batch_size,
        progress=progress,
        store=sink,
        on_cells=keep,
        finished=finished,
    )
    return StoredComparison(record=store.finish_comparison(comparison_id), result=result)


def load_comparison(store: Store, comparison_id: int) -> StoredComparison:
    """Reads a stored comparison and rebuilds its results, without a model.

    Completions come from the cells' runs; checks are run again on them
    (they are pure functions of the completion); likelihoods and samples are
    as stored.

    Raises:
        StoreError: If there is no such comparison.
        PromptkitError: If it is unfinished (running, or stopped: see
            `resume_comparison`), or was recorded before comparisons kept
            their cells (reviews given before then point at such records).
    """
    record = store.get_comparison(comparison_id)
    if not record.model:
        raise PromptkitError(
            f"Comparison {comparison_id} was recorded before comparisons kept their results: it has no stored "
            f"cells to show. Run it again (versions {', '.join(f'v{n}' for n in record.versions)} of {record.family})."
        )
    if record.finished_at is None or not record.cells:
        raise PromptkitError(
            f"Comparison {comparison_id} is still running or was interrupted ({len(record.cells)} of "
            f"{len(record.versions) * len(record.cases)} cells stored). Finish it with "
            f"`python -m promptkit compare --resume {comparison_id}`, or run it again "
            f"(versions {', '.join(f'v{n}' for n in record.versions)} of {record.family})."
        )
    family = store.get_family(name=record.family)
    versions = _recorded_versions(family, record)
    runs = {run.id: run for run in store.list_runs(ids=[c.run_id for c in record.cells if c.run_id is not None])}
    case_index = {case.id: case for case in record.cases}
    cells = tuple(_cell(stored, case_index[stored.case_id], runs) for stored in record.cells)
    labels = tuple(family.candidate_labels)
    result = MatrixResult(
        model=record.model,
        family=record.family,
        versions=versions,
        cases=record.cases,
        cells=cells,
        summary={
            number: summarise([cell for cell in cells if cell.version == number], labels=labels)
            for number in record.versions
        },
        labels=labels,
    )
    return StoredComparison(record=record, result=result)


def _recorded_versions(family: FamilyRecord, record: ComparisonRecord) -> tuple[Version, ...]:
    """The comparison's versions as they ran: with its max new tokens, when it set one."""
    by_number = {version.number: version.as_version() for version in family.versions}
    limit = record.settings.get("max_new_tokens")
    return tuple(
        by_number[number].with_max_new_tokens(limit) if limit else by_number[number] for number in record.versions
    )


def _cell(stored: ComparisonCellRecord, case: TestCase, runs: Mapping[int, RunRecord]) -> Cell:
    run = runs.get(stored.run_id) if stored.run_id is not None else None
    completion = run.completion if run is not None else ""
    checks: tuple[CheckResult, ...] = ()
    if case.expect is not None and stored.prompt is not None and stored.error is None:
        checks = tuple(run_checks(case.expect, prompt=stored.prompt, completion=completion))
    return Cell(
        version=stored.version,
        case=stored.case_id,
        prompt=stored.prompt,
        completion=completion,
        checks=checks,
        outcome_likelihoods=dict(stored.outcome_likelihoods),
        acceptable=tuple(case.expect.labels) if case.expect is not None and stored.prompt is not None else (),
        samples=stored.samples,
        agreement=stored.agreement,
        error=stored.error,
    )


def check_request(store: Store, request: ComparisonRequest, *, actor: str) -> None:
    """Refuses a request that cannot run, or an actor who may not run it, before any model is loaded.

    Raises:
        PermissionDenied: If the actor is not an editor.
        PromptkitError: Naming the value that is wrong and what it must be.
    """
    store.require(actor, Role.EDITOR, action="run a comparison")
    if len(request.versions) < 2:
        raise PromptkitError(f"Pick at least two versions to compare (got {len(request.versions)}).")
    if request.samples < 0:
        raise PromptkitError(f"The number of samples must be 0 or more (got {request.samples}).")
    if request.batch_size < 1:
        raise PromptkitError(f"The batch size must be at least 1 (got {request.batch_size}).")
    if request.max_new_tokens is not None and request.max_new_tokens < 1:
        raise PromptkitError(f"Max new tokens must be at least 1 (got {request.max_new_tokens}).")

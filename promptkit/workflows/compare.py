"""Comparing versions: run the matrix, store it as a comparison, read it back without the model."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from promptkit.errors import PromptkitError
from promptkit.evaluation.cases import select_versions
from promptkit.evaluation.checks import CheckResult, run_checks
from promptkit.evaluation.matrix import DEFAULT_BATCH_SIZE, Progress, run_matrix
from promptkit.evaluation.outcomes import Scorer
from promptkit.evaluation.results import Cell, MatrixResult, summarise
from promptkit.evaluation.runs import RecordingSink
from promptkit.model_api import LanguageModel
from promptkit.people import Role
from promptkit.store import ComparisonCellRecord, ComparisonRecord, RunRecord, Store
from promptkit.templates import Family, TestCase


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
    scorer: Scorer | None = None,
    progress: Progress | None = None,
) -> StoredComparison:
    """Runs every version on every case and stores the comparison with its cells.

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
    comparison = store.start_comparison(
        family=family.name,
        versions=[version.number for version in versions],
        cases=cases,
        model=model.info.name,
        settings=request.settings(),
        created_by=actor,
    )
    sink = RecordingSink(store, created_by=actor)
    result = run_matrix(
        model,
        family,
        versions=versions,
        cases=cases,
        scorer=scorer if family.candidate_labels else None,
        samples=request.samples,
        batch_size=request.batch_size,
        progress=progress,
        store=sink,
    )
    cells = [
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
        for cell in result.cells
    ]
    return StoredComparison(record=store.finish_comparison(comparison.id, cells=cells), result=result)


def load_comparison(store: Store, comparison_id: int) -> StoredComparison:
    """Reads a stored comparison and rebuilds its results, without a model.

    Completions come from the cells' runs; checks are run again on them
    (they are pure functions of the completion); likelihoods and samples are
    as stored.

    Raises:
        StoreError: If there is no such comparison.
        PromptkitError: If it was recorded before comparisons kept their
            cells (reviews given before then point at such records).
    """
    record = store.get_comparison(comparison_id)
    if not record.cells:
        state = "is still running or was interrupted" if record.model else "was recorded before comparisons kept their results"
        raise PromptkitError(
            f"Comparison {comparison_id} {state}: it has no stored cells to show. Run it again "
            f"(versions {', '.join(f'v{n}' for n in record.versions)} of {record.family})."
        )
    family = store.get_family(name=record.family)
    by_number = {version.number: version for version in family.versions}
    versions = tuple(
        by_number[number].as_version().with_max_new_tokens(record.settings["max_new_tokens"])
        if record.settings.get("max_new_tokens")
        else by_number[number].as_version()
        for number in record.versions
    )
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

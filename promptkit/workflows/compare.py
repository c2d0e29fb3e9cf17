"""Comparing versions: run the matrix here or on workers, store it cell by cell, resume it, read it back.

A column is a prompt version, alone or with a trained LoRA adapter
(`2`, `1+adapter:NAME`): an adapter column runs on the comparison's model
with the adapter merged in, with the same cases, checks and likelihoods,
and its runs are recorded with that model's name (`BASE+adapter:NAME`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

from promptkit.columns import Column, split_column_ref
from promptkit.errors import PromptkitError
from promptkit.evaluation.cases import select_versions
from promptkit.evaluation.checks import CheckResult, run_checks
from promptkit.evaluation.matrix import DEFAULT_BATCH_SIZE, Engine, LocalEngine, Progress, run_matrix_on
from promptkit.evaluation.results import Cell, MatrixResult, summarise
from promptkit.evaluation.runs import RecordingSink
from promptkit.models.api import CandidateScorer, LanguageModel
from promptkit.models.gemma_model import GemmaModel
from promptkit.models.loader import with_adapter
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
        versions: the columns: version numbers or labels, each alone or
            with an adapter (`1+adapter:NAME`, `plain+adapter:NAME`), the baseline first.
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

    def run_id(self, column: Column | int, case_id: str) -> int | None:
        """The run holding a cell's completion (a version number: its plain column), if it has one."""
        wanted = column if isinstance(column, Column) else Column(column)
        for cell in self.record.cells:
            if cell.column == wanted and cell.case_id == case_id:
                return cell.run_id
        return None


# An adapter's name → an engine whose model is the comparison's with that adapter merged in.
AdapterEngines = Callable[[str], Engine]


def local_adapter_engines(model: LanguageModel, scorer: CandidateScorer | None) -> AdapterEngines:
    """Adapter columns in this process: a copy of `model` with the adapter merged in, made once per adapter.

    Args:
        model: the comparison's model, a loaded Gemma.
        scorer: the comparison's scorer; an adapted model gets its own when given.
    """
    made: dict[str, Engine] = {}

    def engine_for(name: str) -> Engine:
        if name not in made:
            if not isinstance(model, GemmaModel):
                raise PromptkitError(f"Adapter columns need a Gemma loaded in this process; {model.info.name} is not one.")
            adapted = with_adapter(model, name)
            made[name] = LocalEngine(adapted, None if scorer is None else adapted.companions.scorer)
        return made[name]

    return engine_for


def run_comparison(
    store: Store,
    model: LanguageModel,
    request: ComparisonRequest,
    *,
    actor: str,
    scorer: CandidateScorer | None = None,
    progress: Progress | None = None,
    adapter_engines: AdapterEngines | None = None,
) -> StoredComparison:
    """Runs every column on every case in this process and stores the comparison, cell by cell.

    Args:
        store: where the family is read and the runs and comparison go.
        model: generates the completions.
        request: what to compare.
        actor: who starts it (a person's key); an editor.
        scorer: scores the family's candidate labels (outcome likelihoods);
            None leaves them out.
        progress: called as `(done, total)` work units.
        adapter_engines: gives the engine of each adapter column (the
            dashboard's shared models); default: `local_adapter_engines`.

    Returns:
        The stored comparison and its results.

    Raises:
        PermissionDenied: If the actor is not an editor; nothing is run then.
        PromptkitError: If the request is invalid (unknown family, version,
            label or adapter, too few columns, no cases, bad numbers); nothing is run then.
    """
    return run_comparison_on(
        store, LocalEngine(model, scorer), request, actor=actor, progress=progress, adapter_engines=adapter_engines
    )


def run_comparison_on(
    store: Store,
    engine: Engine,
    request: ComparisonRequest,
    *,
    actor: str,
    progress: Progress | None = None,
    adapter_engines: AdapterEngines | None = None,
) -> StoredComparison:
    """Runs every column on every case with an engine and stores the comparison, cell by cell.

    Each batch's cells are stored as soon as the batch is back, so a run
    that stops (or a driver that dies) leaves the comparison unfinished with
    every finished cell kept; `resume_comparison` completes it. The columns
    of each adapter (and those without one) run together on their engine,
    group after group in the order the columns first name them.

    Args:
        store: where the family is read and the runs and comparison go.
        engine: completes the cells (`LocalEngine`, or a pool of workers);
            it scores the candidate labels if it can and the family has any.
        request: what to compare.
        actor: who starts it (a person's key); an editor.
        progress: called as `(done, total)` work units.
        adapter_engines: gives the engine of each adapter column; default:
            `local_adapter_engines` for a `LocalEngine`.

    Returns:
        The stored comparison and its results.

    Raises:
        PermissionDenied: If the actor is not an editor; nothing is run then.
        PromptkitError: If the request is invalid (unknown family, version,
            label or adapter, too few columns, no cases, bad numbers); nothing is run then.
    """
    check_request(store, request, actor=actor)
    record = store.get_family(name=request.family)
    columns, versions = _requested_columns(record, request)
    if request.max_new_tokens is not None:
        versions = tuple(version.with_max_new_tokens(request.max_new_tokens) for version in versions)
    engines = _engines(engine, columns, adapter_engines)
    cases = record.cases if request.cases is None else request.cases
    if not cases:
        raise PromptkitError(f"Family {record.name!r} has no test cases; pass a case file or add cases to it.")
    family = Family(
        name=record.name,
        description=record.description,
        candidate_labels=record.candidate_labels,
        versions=tuple(version.as_version() for version in record.versions),
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
        columns=columns if any(column.adapter for column in columns) else (),
    )
    return _complete(
        store, engines, comparison.id, family, columns, versions, tuple(cases), scored=scored,
        samples=request.samples, batch_size=request.batch_size, actor=actor, progress=progress,
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
    adapter_engines: AdapterEngines | None = None,
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
        adapter_engines: gives the engine of each adapter column (see `run_comparison_on`).

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
        store, _engines(engine, record.columns, adapter_engines), comparison_id, family, record.columns,
        _recorded_versions(family_record, record), record.cases, scored=scored,
        samples=int(record.settings.get("samples") or 0),
        batch_size=int(record.settings.get("batch_size") or DEFAULT_BATCH_SIZE), actor=actor, progress=progress,
        finished=finished,
    )


def _requested_columns(record: FamilyRecord, request: ComparisonRequest) -> tuple[tuple[Column, ...], tuple[Version, ...]]:
    """The request's columns, and their versions each once in order."""
    refs = [split_column_ref(str(ref)) for ref in request.versions]
    available = tuple(version.as_version() for version in record.versions)
    picked = select_versions(available, [version for version, _ in refs], family=record.name)
    columns = tuple(Column(version.number, adapter) for version, (_, adapter) in zip(picked, refs))
    repeated = [str(column) for column in columns if columns.count(column) > 1]
    if repeated:
        raise PromptkitError(f"Column {repeated[0]} is asked for twice; name each version (or version+adapter) once.")
    versions = {version.number: version for version in picked}
    return columns, tuple(versions[number] for number in dict.fromkeys(column.version for column in columns))


def _engines(
    engine: Engine, columns: Sequence[Column], adapter_engines: AdapterEngines | None
) -> dict[str | None, Engine]:
    """The engine of each adapter the columns name (None: the model alone)."""
    adapters = list(dict.fromkeys(column.adapter for column in columns if column.adapter is not None))
    if adapters and adapter_engines is None:
        if not isinstance(engine, LocalEngine):
            raise PromptkitError(
                f"Adapter columns ({', '.join(adapters)}) run in this process only; use --engine local for them."
            )
        adapter_engines = local_adapter_engines(engine.model, engine.scorer)
    engines: dict[str | None, Engine] = {None: engine}
    for name in adapters:
        assert adapter_engines is not None  # Set above whenever there are adapters.
        engines[name] = adapter_engines(name)
    return engines


def _complete(
    store: Store,
    engines: Mapping[str | None, Engine],
    comparison_id: int,
    family: Family,
    columns: tuple[Column, ...],
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
    """Runs a started comparison's cells not in `finished`, storing each batch's as it comes, and finishes it.

    The columns of one adapter (None: the model alone) run together on its
    engine; progress adds them up.
    """
    by_number = {version.number: version for version in versions}
    groups = list(dict.fromkeys(column.adapter for column in columns))
    share = _GroupProgress(progress, [sum(c.adapter == adapter for c in columns) for adapter in groups])
    results: dict[Column, MatrixResult] = {}
    for index, adapter in enumerate(groups):
        # Runs are remembered by (version, prompt): one sink per adapter keeps a version's columns apart.
        sink = RecordingSink(store, created_by=actor)

        def keep(cells: Sequence[Cell], sink: RecordingSink = sink) -> None:
            store.add_comparison_cells(comparison_id, [_cell_record(cell, sink) for cell in cells])

        result = run_matrix_on(
            engines[adapter],
            family,
            versions=[by_number[column.version] for column in columns if column.adapter == adapter],
            cases=cases,
            score=scored,
            samples=samples,
            batch_size=batch_size,
            progress=share.of(index),
            store=sink,
            on_cells=keep,
            finished=[cell for cell in finished if cell.adapter == adapter],
            adapter=adapter,
        )
        results.update({column: result for column in result.columns})
    merged = MatrixResult(
        model=engines[None].model_name,
        family=family.name,
        versions=versions,
        cases=cases,
        cells=tuple(results[column].cell(column, case.id) for column in columns for case in cases),
        summary={column: results[column].summary[column] for column in columns},
        labels=tuple(family.candidate_labels),
        columns=columns,
    )
    return StoredComparison(record=store.finish_comparison(comparison_id), result=merged)


def _cell_record(cell: Cell, sink: RecordingSink) -> ComparisonCellRecord:
    return ComparisonCellRecord(
        version=cell.version,
        case_id=cell.case,
        run_id=sink.run_ids.get((cell.version, cell.prompt)) if cell.prompt is not None else None,
        prompt=cell.prompt,
        outcome_likelihoods=dict(cell.outcome_likelihoods),
        samples=cell.samples,
        agreement=cell.agreement,
        error=cell.error,
        adapter=cell.adapter,
    )


class _GroupProgress:
    """Adds up the progress of the column groups that run one after another into one `(done, total)`.

    A group's total is known once it starts; until then it is estimated
    from the work per column of the groups started so far.
    """

    def __init__(self, progress: Progress | None, columns_per_group: Sequence[int]) -> None:
        self._progress = progress
        self._columns = list(columns_per_group)
        self._done: dict[int, float] = {}
        self._totals: dict[int, int] = {}

    def of(self, group: int) -> Progress | None:
        """The progress callback of one group."""
        if self._progress is None:
            return None

        def report(done: float, total: int) -> None:
            self._done[group], self._totals[group] = done, total
            self._report()

        return report

    def _report(self) -> None:
        assert self._progress is not None
        known = sum(self._columns[g] for g in self._totals)
        per_column = sum(self._totals.values()) / max(known, 1)
        total = sum(self._totals.values()) + round(per_column * (sum(self._columns) - known))
        self._progress(sum(self._done.values()), total)


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
            f"{len(record.columns) * len(record.cases)} cells stored). Finish it with "
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
            column: summarise([cell for cell in cells if cell.column == column], labels=labels)
            for column in record.columns
        },
        labels=labels,
        columns=record.columns,
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
        adapter=stored.adapter,
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
    for _, adapter in (split_column_ref(str(ref)) for ref in request.versions):
        if adapter is not None and store.find_adapter(adapter) is None:
            known = ", ".join(record.name for record in store.list_adapters()) or "none yet"
            raise PromptkitError(
                f"There is no adapter {adapter!r} (trained adapters: {known}); `python -m promptkit tune` or the "
                "Tune page trains one."
            )
    if request.samples < 0:
        raise PromptkitError(f"The number of samples must be 0 or more (got {request.samples}).")
    if request.batch_size < 1:
        raise PromptkitError(f"The batch size must be at least 1 (got {request.batch_size}).")
    if request.max_new_tokens is not None and request.max_new_tokens < 1:
        raise PromptkitError(f"Max new tokens must be at least 1 (got {request.max_new_tokens}).")

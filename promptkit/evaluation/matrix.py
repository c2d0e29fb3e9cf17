"""Runs N versions × M cases: batched completions, checks, likelihoods, stability.

Cells that share generation settings are completed together, several
prompts per model call, whatever version they come from. A batch that
fails with a user-facing error (a prompt too long for the context) is
retried one prompt at a time so only the offending cells are marked with
their error and the rest complete.

A batch is the unit of work: its cells are generated, checked, sampled and
scored together (`complete_batch`), so each comes back finished and can be
stored at once. An `Engine` completes the batches: `LocalEngine` one after
another in this process, `promptkit.evaluation.ray_engine.RayEngine` on a
pool of workers that each hold the model.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from promptkit.columns import Column
from promptkit.errors import PromptkitError
from promptkit.evaluation.checks import CheckResult, run_checks
from promptkit.evaluation.outcomes import outcome_likelihoods, outcome_prefix
from promptkit.evaluation.results import Cell, MatrixResult, summarise
from promptkit.evaluation.stability import agreement_rate, sample_outcome, sample_settings
from promptkit.generation import DEFAULT_STOP_SEQUENCES, Completion, GenerationSettings
from promptkit.models.api import CandidateScorer, LanguageModel
from promptkit.templates import Family, TestCase, Version, render_template

if TYPE_CHECKING:
    from promptkit.store.records import RunRecord

# `(done, total)`: done counts work units, in fractions while a batch decodes.
Progress = Callable[[float, int], None]
DEFAULT_BATCH_SIZE = 8
# A finished cell and what its generation gave: the completion, or the error it raised.
CellOutput = tuple[Cell, Completion | PromptkitError]


class RunSink(Protocol):
    """Where cells are saved: `promptkit.store.Store` fits (these are its methods)."""

    def add_run(
        self,
        *,
        family: str,
        version: int | str,
        model: str,
        completion: Completion,
        values: Mapping[str, str],
        settings: GenerationSettings,
        case_id: str | None = None,
    ) -> RunRecord:
        """Saves one generation."""

    def add_failed_run(
        self,
        *,
        family: str,
        version: int | str,
        model: str,
        prompt: str,
        values: Mapping[str, str],
        settings: GenerationSettings,
        error: str,
        case_id: str | None = None,
    ) -> RunRecord:
        """Saves one generation that failed."""


def version_settings(version: Version) -> GenerationSettings:
    """Generation settings from a version's defaults: greedy unless it sets a temperature."""
    defaults = version.generation
    return GenerationSettings(
        max_new_tokens=defaults.max_new_tokens,
        temperature=defaults.temperature or 0.0,
        stop_sequences=defaults.stop_sequences or DEFAULT_STOP_SEQUENCES,
    )


def generate_each(
    model: LanguageModel,
    prompts: Sequence[str],
    *,
    settings: GenerationSettings,
    batch_size: int,
    advance: Callable[[float], None],
) -> list[Completion | PromptkitError]:
    """Completes prompts in batches; a failing batch is retried one by one.

    Args:
        model: the model.
        prompts: the prompts.
        settings: shared settings.
        batch_size: most prompts per model call.
        advance: called with how many prompts' worth of work just got done:
            fractions while a batch decodes, so that a batch of slow
            completions still shows progress; the calls add up to
            `len(prompts)`.

    Returns:
        Per prompt, its completion or the error it raised.
    """
    # In text order, prompts of one template sit together: a batch runs the
    # tokens its prompts share once, and their lengths differ only by the
    # filled-in values (a batch decodes from its shortest prompt's end).
    order = sorted(range(len(prompts)), key=prompts.__getitem__)
    results: list[Completion | PromptkitError | None] = [None] * len(prompts)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        outputs = _generate_chunk(model, [prompts[i] for i in chunk], settings=settings, advance=advance)
        for i, output in zip(chunk, outputs):
            results[i] = output
    return [result for result in results if result is not None]


def _generate_chunk(
    model: LanguageModel, prompts: Sequence[str], *, settings: GenerationSettings, advance: Callable[[float], None]
) -> list[Completion | PromptkitError]:
    """Completes prompts in one model call; if it fails, one prompt at a time, keeping each one's error."""
    reported = 0.0

    def report(fraction: float) -> None:
        nonlocal reported
        share = min(fraction, 1.0) * len(prompts)
        if share > reported:
            advance(share - reported)
            reported = share

    try:
        outputs: list[Completion | PromptkitError] = list(
            model.generate(prompts, settings=settings, on_progress=report)
        )
    except PromptkitError:
        outputs = []
        for prompt in prompts:
            try:
                outputs.extend(model.generate([prompt], settings=settings))
            except PromptkitError as error:
                outputs.append(error)
    advance(len(prompts) - reported)
    return outputs


@dataclasses.dataclass(frozen=True)
class MatrixJob:
    """What every batch of one matrix shares besides the model; workers get it with each batch.

    Attributes:
        labels: the family's candidate labels.
        cases: the test cases (expectations, candidates, named lines).
        samples: K seeded samples per cell for stability (0: none).
        sample_temperature: temperature of those samples (None: the
            default of `promptkit.evaluation.stability.sample_settings`).
        batch_size: most prompts per model call, and per scoring pass on a worker.
        score: whether each cell's candidate labels are scored.
    """

    labels: tuple[str, ...]
    cases: tuple[TestCase, ...]
    samples: int = 0
    sample_temperature: float | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    score: bool = False

    @functools.cached_property
    def _case_index(self) -> dict[str, TestCase]:
        return {case.id: case for case in self.cases}

    def case(self, case_id: str) -> TestCase:
        """The test case with this id."""
        return self._case_index[case_id]

    def candidates(self, cell: Cell) -> tuple[str, ...]:
        """The labels a cell is scored on: its case's own, else the family's; none for a failed cell."""
        if cell.error is not None:
            return ()
        expect = self.case(cell.case).expect
        if expect is not None and expect.candidates:
            return tuple(expect.candidates)
        return self.labels

    def units(self, cell: Cell) -> int:
        """A cell's work units, as progress counts them: its completion, its samples, its scoring."""
        return 1 + self.samples + (1 if self.score and self.candidates(cell) else 0)


@dataclasses.dataclass(frozen=True)
class CellBatch:
    """Cells completed together: one generation settings, prompts in text order, a batch's worth at most.

    Attributes:
        settings: their generation settings.
        cells: rendered cells (each has a prompt), sorted by prompt.
    """

    settings: GenerationSettings
    cells: tuple[Cell, ...]


def plan_batches(
    cells: Sequence[Cell], settings: Mapping[int, GenerationSettings], *, batch_size: int
) -> list[CellBatch]:
    """Groups rendered cells into batches: same settings together, whatever the version, prompt-sorted.

    Args:
        cells: rendered cells, in matrix order.
        settings: each version's generation settings, by number.
        batch_size: most cells per batch.

    Returns:
        The batches, group after group.
    """
    groups: dict[GenerationSettings, list[Cell]] = collections.defaultdict(list)
    for cell in cells:
        groups[settings[cell.version]].append(cell)
    batches = []
    for group_settings, group in groups.items():
        # In text order, prompts of one template sit together (see `generate_each`).
        ordered = sorted(group, key=lambda cell: cell.prompt or "")
        batches += [
            CellBatch(settings=group_settings, cells=tuple(ordered[start : start + batch_size]))
            for start in range(0, len(ordered), batch_size)
        ]
    return batches


def complete_batch(
    model: LanguageModel,
    scorer: CandidateScorer | None,
    job: MatrixJob,
    batch: CellBatch,
    advance: Callable[[float], None],
) -> list[CellOutput]:
    """Finishes one batch of cells: greedy completions, checks, samples, outcome likelihoods.

    Args:
        model: generates the completions.
        scorer: scores the candidate labels when `job.score`.
        job: what the matrix's batches share.
        batch: the cells.
        advance: called with work units done (fractions while decoding);
            the calls add up to the batch's `job.units`.

    Returns:
        Each cell, finished, with its generation's completion or error, in
        the batch's order.
    """
    prompts = [cell.prompt or "" for cell in batch.cells]
    outputs = _generate_chunk(model, prompts, settings=batch.settings, advance=advance)
    cells = [_completed(cell, output, job.case(cell.case)) for cell, output in zip(batch.cells, outputs)]
    completed = [i for i, cell in enumerate(cells) if cell.error is None]
    advance(job.samples * (len(cells) - len(completed)))  # Failed cells get no samples.
    if job.samples:
        _sample(model, cells, completed, batch.settings, job, advance)
    if job.score and scorer is not None:
        _score(scorer, job, cells, [i for i, cell in enumerate(batch.cells) if job.candidates(cell)], advance)
    return list(zip(cells, outputs))


class Engine(Protocol):
    """Completes batches of matrix cells with one model: in this process, or on workers."""

    @property
    def model_name(self) -> str:
        """The model's name, as runs and comparisons record it."""

    @property
    def scores(self) -> bool:
        """Whether it can score candidate labels (outcome likelihoods)."""

    def run(
        self,
        job: MatrixJob,
        batches: Sequence[CellBatch],
        *,
        on_batch: Callable[[Sequence[CellOutput]], None],
        advance: Callable[[float], None],
    ) -> None:
        """Completes every batch with `complete_batch`, in any order.

        Args:
            job: what the batches share.
            batches: the batches.
            on_batch: called with each batch's finished cells as soon as they are back.
            advance: called with work units done; the calls add up to the
                batches' `job.units`.
        """


class LocalEngine:
    """Completes batches one after another in this process, with a loaded model.

    Args:
        model: generates the completions.
        scorer: scores the candidate labels; None leaves them out.
    """

    def __init__(self, model: LanguageModel, scorer: CandidateScorer | None = None) -> None:
        self.model = model
        self.scorer = scorer

    @property
    def model_name(self) -> str:
        """The loaded model's name."""
        return self.model.info.name

    @property
    def scores(self) -> bool:
        """Whether a scorer was given."""
        return self.scorer is not None

    def run(
        self,
        job: MatrixJob,
        batches: Sequence[CellBatch],
        *,
        on_batch: Callable[[Sequence[CellOutput]], None],
        advance: Callable[[float], None],
    ) -> None:
        """Completes the batches in order; see `Engine.run`."""
        for batch in batches:
            on_batch(complete_batch(self.model, self.scorer, job, batch, advance))


def run_matrix(
    model: LanguageModel,
    family: Family,
    *,
    versions: Sequence[Version],
    cases: Sequence[TestCase],
    scorer: CandidateScorer | None = None,
    samples: int = 0,
    sample_temperature: float | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    store: RunSink | None = None,
) -> MatrixResult:
    """Completes and checks every version × case cell in this process.

    Args:
        model: generates completions.
        family: the family the versions belong to (its candidate labels).
        versions: versions to compare, in display order.
        cases: test cases, in display order.
        scorer: when given, scores the candidate labels of each cell.
        samples: K seeded samples per cell for stability (0: none).
        sample_temperature: temperature of those samples (default: see
            `promptkit.evaluation.stability.sample_settings`).
        batch_size: most prompts per model call.
        progress: called as `(done, total)` work units; a unit is one
            completion or one cell's scoring, and `done` moves in fractions
            of a unit while a batch of completions decodes.
        store: when given, every cell's completion is saved as a run.

    Returns:
        The matrix, version-major, with per-version summaries.
    """
    return run_matrix_on(
        LocalEngine(model, scorer),
        family,
        versions=versions,
        cases=cases,
        samples=samples,
        sample_temperature=sample_temperature,
        batch_size=batch_size,
        progress=progress,
        store=store,
    )


def run_matrix_on(
    engine: Engine,
    family: Family,
    *,
    versions: Sequence[Version],
    cases: Sequence[TestCase],
    score: bool = True,
    samples: int = 0,
    sample_temperature: float | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    store: RunSink | None = None,
    on_cells: Callable[[Sequence[Cell]], None] | None = None,
    finished: Sequence[Cell] = (),
    adapter: str | None = None,
) -> MatrixResult:
    """Completes and checks every version × case cell with an engine, batch by batch.

    Args:
        engine: completes the batches (`LocalEngine`, or a pool of workers).
        family: the family the versions belong to (its candidate labels).
        versions: versions to compare, in display order.
        cases: test cases, in display order.
        score: whether to score the candidate labels, when the engine can.
        samples: K seeded samples per cell for stability (0: none).
        sample_temperature: temperature of those samples (default: see
            `promptkit.evaluation.stability.sample_settings`).
        batch_size: most prompts per model call.
        progress: called as `(done, total)` work units (see `run_matrix`).
        store: when given, every cell's completion is saved as a run, as
            its batch comes back.
        on_cells: called with cells as they finish (after their runs are
            saved): those that failed to render first, then each batch's.
        finished: cells finished before (a resumed comparison's), kept as
            they are and not run again; progress counts the others only.
        adapter: the adapter the engine's model has merged in, which names
            the cells' columns (`version+adapter:NAME`); None for a plain model.

    Returns:
        The matrix, version-major, with per-version summaries.
    """
    job = MatrixJob(
        labels=tuple(family.candidate_labels),
        cases=tuple(cases),
        samples=samples,
        sample_temperature=sample_temperature,
        batch_size=batch_size,
        score=score and engine.scores,
    )
    kept = {(cell.version, cell.case): cell for cell in finished}
    cells = {
        (version.number, case.id): kept.get((version.number, case.id)) or _render(version, case, adapter)
        for version in versions
        for case in cases
    }
    todo = [cell for key, cell in cells.items() if key not in kept]
    unrendered = [cell for cell in todo if cell.error is not None]
    settings = {version.number: version_settings(version) for version in versions}
    total = sum(job.units(cell) for cell in todo)
    done = float(sum(job.units(cell) for cell in unrendered))  # Rendering failures are already finished.
    family_case_ids = {case.id for case in family.cases}

    def advance(count: float) -> None:
        nonlocal done
        done += count
        if abs(done - round(done)) < 1e-6:  # Fractions of a batch add up to whole units again, exactly.
            done = float(round(done))
        if progress is not None and count > 0:
            progress(done, total)

    def keep(outputs: Sequence[CellOutput]) -> None:
        for cell, output in outputs:
            cells[(cell.version, cell.case)] = cell
            if store is not None:
                _save(store, family.name, engine.model_name, cell, output, job.case(cell.case), settings[cell.version],
                      family_case_ids)
        if on_cells is not None:
            on_cells([cell for cell, _ in outputs])

    if progress is not None:
        progress(done, total)
    if unrendered and on_cells is not None:
        on_cells(unrendered)
    batches = plan_batches([cell for cell in todo if cell.error is None], settings, batch_size=batch_size)
    engine.run(job, batches, on_batch=keep, advance=advance)
    labels = tuple(family.candidate_labels)
    return MatrixResult(
        model=engine.model_name,
        family=family.name,
        versions=tuple(versions),
        cases=tuple(cases),
        cells=tuple(cells.values()),
        summary={
            Column(version.number, adapter): summarise(
                [cell for cell in cells.values() if cell.version == version.number], labels=labels
            )
            for version in versions
        },
        labels=labels,
        columns=tuple(Column(version.number, adapter) for version in versions),
    )


def _render(version: Version, case: TestCase, adapter: str | None) -> Cell:
    try:
        prompt = render_template(version.text, case.values).text
    except PromptkitError as error:
        return Cell(version=version.number, case=case.id, prompt=None, error=str(error), adapter=adapter)
    return Cell(version=version.number, case=case.id, prompt=prompt, adapter=adapter)


def _completed(cell: Cell, output: Completion | PromptkitError, case: TestCase) -> Cell:
    if isinstance(output, PromptkitError):
        return dataclasses.replace(cell, error=str(output))
    checks: tuple[CheckResult, ...] = ()
    if case.expect is not None:
        checks = tuple(run_checks(case.expect, prompt=cell.prompt or "", completion=output.text))
    acceptable = tuple(case.expect.labels) if case.expect is not None else ()
    return dataclasses.replace(cell, completion=output.text, checks=checks, acceptable=acceptable)


def _save(
    store: RunSink,
    family: str,
    model: str,
    cell: Cell,
    output: Completion | PromptkitError,
    case: TestCase,
    settings: GenerationSettings,
    family_case_ids: set[str],
) -> None:
    # A case from the user's own file is not in the store; its values still are.
    case_id = case.id if case.id in family_case_ids else None
    if isinstance(output, Completion):
        store.add_run(
            family=family, version=cell.version, model=model, completion=output, values=case.values,
            settings=settings, case_id=case_id,
        )
    else:
        store.add_failed_run(
            family=family, version=cell.version, model=model, prompt=cell.prompt or "", values=case.values,
            settings=settings, error=str(output), case_id=case_id,
        )


def _score(
    scorer: CandidateScorer,
    job: MatrixJob,
    cells: list[Cell],
    indices: Sequence[int],
    advance: Callable[[float], None],
) -> None:
    # Cells with the same candidates are scored in one call, batched inside.
    by_candidates: dict[tuple[str, ...], list[int]] = collections.defaultdict(list)
    for i in indices:
        if cells[i].error is None:
            by_candidates[job.candidates(cells[i])].append(i)
        else:
            advance(1)
    for candidates, group in by_candidates.items():
        prefixes = [
            outcome_prefix(cells[i].prompt or "", cells[i].completion, line=_line(job.case(cells[i].case)))
            for i in group
        ]
        try:
            likelihoods = outcome_likelihoods(scorer, prefixes, candidates)
        except PromptkitError:
            likelihoods = []
            for i, prefix in zip(group, prefixes):
                try:
                    likelihoods.extend(outcome_likelihoods(scorer, [prefix], candidates))
                except PromptkitError as error:
                    cells[i] = dataclasses.replace(cells[i], error=f"outcome likelihoods: {error}")
                    likelihoods.append({})
        for i, values in zip(group, likelihoods):
            cells[i] = dataclasses.replace(cells[i], outcome_likelihoods=values)
        advance(len(group))


def _line(case: TestCase) -> str | None:
    return case.expect.line if case.expect is not None else None


def _sample(
    model: LanguageModel,
    cells: list[Cell],
    indices: Sequence[int],
    settings: GenerationSettings,
    job: MatrixJob,
    advance: Callable[[float], None],
) -> None:
    texts: dict[int, list[str]] = collections.defaultdict(list)
    outcomes: dict[int, list[Any]] = collections.defaultdict(list)
    # Each prompt has its own random stream per seed, so batching keeps samples reproducible.
    for seeded in sample_settings(settings, samples=job.samples, temperature=job.sample_temperature):
        outputs = generate_each(
            model, [cells[i].prompt or "" for i in indices], settings=seeded, batch_size=job.batch_size, advance=advance
        )
        for i, output in zip(indices, outputs):
            if isinstance(output, Completion):
                texts[i].append(output.text)
                expectation = job.case(cells[i].case).expect
                outcomes[i].append(sample_outcome(expectation, prompt=cells[i].prompt or "", completion=output.text))
    for i in indices:
        cells[i] = dataclasses.replace(cells[i], samples=tuple(texts[i]), agreement=agreement_rate(outcomes[i]))

"""Runs N versions × M cases: batched completions, checks, likelihoods, stability.

Cells that share generation settings are completed together, several
prompts per model call, whatever version they come from. A batch that
fails with a user-facing error (a prompt too long for the context) is
retried one prompt at a time so only the offending cells are marked with
their error and the rest complete.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from promptkit.errors import PromptkitError
from promptkit.evaluation.checks import CheckResult, run_checks
from promptkit.evaluation.outcomes import Scorer, outcome_likelihoods, outcome_prefix
from promptkit.evaluation.results import Cell, MatrixResult, summarise
from promptkit.evaluation.stability import agreement_rate, sample_outcome, sample_settings
from promptkit.generation import DEFAULT_STOP_SEQUENCES, Completion, GenerationSettings
from promptkit.model_api import LanguageModel
from promptkit.templates import Family, TestCase, Version, render_template

if TYPE_CHECKING:
    from promptkit.store.records import RunRecord

# `(done, total)`: done counts work units, in fractions while a batch decodes.
Progress = Callable[[float, int], None]
DEFAULT_BATCH_SIZE = 8


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
    on_done: Callable[[int, Completion | PromptkitError], None] | None = None,
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
        on_done: called with a prompt's index and its completion (or error)
            as soon as its batch is done, so a caller can keep each result
            even if a later batch is interrupted.

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
        reported = 0.0

        def report(fraction: float, size: int = len(chunk)) -> None:
            nonlocal reported
            share = min(fraction, 1.0) * size
            if share > reported:
                advance(share - reported)
                reported = share

        try:
            outputs = model.generate([prompts[i] for i in chunk], settings=settings, on_progress=report)
            results_for_chunk: list[Completion | PromptkitError] = list(outputs)
        except PromptkitError:
            results_for_chunk = []
            for i in chunk:
                try:
                    results_for_chunk.extend(model.generate([prompts[i]], settings=settings))
                except PromptkitError as error:
                    results_for_chunk.append(error)
        for i, output in zip(chunk, results_for_chunk):
            results[i] = output
            if on_done is not None:
                on_done(i, output)
        advance(len(chunk) - reported)
    return [result for result in results if result is not None]


def run_matrix(
    model: LanguageModel,
    family: Family,
    *,
    versions: Sequence[Version],
    cases: Sequence[TestCase],
    scorer: Scorer | None = None,
    samples: int = 0,
    sample_temperature: float | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    store: RunSink | None = None,
) -> MatrixResult:
    """Completes and checks every version × case cell.

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
    cells = [_render(version, case) for version in versions for case in cases]
    settings = {version.number: version_settings(version) for version in versions}
    to_score = [i for i, cell in enumerate(cells) if scorer is not None and _candidates(family, cases, cell)]
    pending = [i for i, cell in enumerate(cells) if cell.error is None]
    total = len(cells) * (1 + samples) + len(to_score)
    done = float(len(cells) - len(pending))  # Rendering failures are already finished.
    case_index = {case.id: case for case in cases}
    family_case_ids = {case.id for case in family.cases}

    def advance(count: float) -> None:
        nonlocal done
        done = round(done + count, 9)  # Fractions of a batch add up to whole units again.
        if progress is not None and count > 0:
            progress(done, total)

    if progress is not None:
        progress(done, total)
    # Identical settings share batches, so versions are mixed in one call.
    groups: dict[GenerationSettings, list[int]] = collections.defaultdict(list)
    for i in pending:
        groups[settings[cells[i].version]].append(i)
    for group_settings, indices in groups.items():

        # Each cell is kept as soon as its batch is done: a run stopped later keeps it.
        def keep(position: int, output: Completion | PromptkitError, indices: list[int] = indices,
                 group_settings: GenerationSettings = group_settings) -> None:
            i = indices[position]
            cells[i] = _completed(cells[i], output, case_index[cells[i].case])
            if store is not None:
                _save(store, family.name, model, cells[i], output, case_index[cells[i].case], group_settings, family_case_ids)

        generate_each(
            model,
            [cells[i].prompt or "" for i in indices],
            settings=group_settings,
            batch_size=batch_size,
            advance=advance,
            on_done=keep,
        )
    completed = [i for i in pending if cells[i].error is None]
    advance(samples * (len(cells) - len(completed)))  # Failed cells get no samples.
    if samples:
        _sample(model, cells, completed, settings, samples, sample_temperature, batch_size, case_index, advance)
    if scorer is not None:
        _score(scorer, family, cases, cells, to_score, advance)
    labels = tuple(family.candidate_labels)
    return MatrixResult(
        model=model.info.name,
        family=family.name,
        versions=tuple(versions),
        cases=tuple(cases),
        cells=tuple(cells),
        summary={
            version.number: summarise([cell for cell in cells if cell.version == version.number], labels=labels)
            for version in versions
        },
        labels=labels,
    )


def _render(version: Version, case: TestCase) -> Cell:
    try:
        prompt = render_template(version.text, case.values).text
    except PromptkitError as error:
        return Cell(version=version.number, case=case.id, prompt=None, error=str(error))
    return Cell(version=version.number, case=case.id, prompt=prompt)


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
    model: LanguageModel,
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
            family=family, version=cell.version, model=model.info.name, completion=output, values=case.values,
            settings=settings, case_id=case_id,
        )
    else:
        store.add_failed_run(
            family=family, version=cell.version, model=model.info.name, prompt=cell.prompt or "", values=case.values,
            settings=settings, error=str(output), case_id=case_id,
        )


def _candidates(family: Family, cases: Sequence[TestCase], cell: Cell) -> tuple[str, ...]:
    if cell.error is not None:
        return ()
    case = next(case for case in cases if case.id == cell.case)
    if case.expect is not None and case.expect.candidates:
        return tuple(case.expect.candidates)
    return tuple(family.candidate_labels)


def _score(
    scorer: Scorer,
    family: Family,
    cases: Sequence[TestCase],
    cells: list[Cell],
    indices: Sequence[int],
    advance: Callable[[float], None],
) -> None:
    # Cells with the same candidates are scored in one call, batched inside.
    by_candidates: dict[tuple[str, ...], list[int]] = collections.defaultdict(list)
    for i in indices:
        if cells[i].error is None:
            by_candidates[_candidates(family, cases, cells[i])].append(i)
        else:
            advance(1)
    lines = {case.id: case.expect.line if case.expect is not None else None for case in cases}
    for candidates, group in by_candidates.items():
        prefixes = [outcome_prefix(cells[i].prompt or "", cells[i].completion, line=lines[cells[i].case]) for i in group]
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


def _sample(
    model: LanguageModel,
    cells: list[Cell],
    indices: Sequence[int],
    settings: Mapping[int, GenerationSettings],
    samples: int,
    temperature: float | None,
    batch_size: int,
    case_index: Mapping[str, TestCase],
    advance: Callable[[float], None],
) -> None:
    texts: dict[int, list[str]] = collections.defaultdict(list)
    outcomes: dict[int, list[Any]] = collections.defaultdict(list)
    groups: dict[GenerationSettings, list[int]] = collections.defaultdict(list)
    for i in indices:
        groups[settings[cells[i].version]].append(i)
    for base, group in groups.items():
        # Each prompt has its own random stream per seed, so batching keeps samples reproducible.
        for seeded in sample_settings(base, samples=samples, temperature=temperature):
            outputs = generate_each(
                model, [cells[i].prompt or "" for i in group], settings=seeded, batch_size=batch_size, advance=advance
            )
            for i, output in zip(group, outputs):
                if isinstance(output, Completion):
                    texts[i].append(output.text)
                    expectation = case_index[cells[i].case].expect
                    outcomes[i].append(sample_outcome(expectation, prompt=cells[i].prompt or "", completion=output.text))
    for i in indices:
        cells[i] = dataclasses.replace(cells[i], samples=tuple(texts[i]), agreement=agreement_rate(outcomes[i]))

"""Comparisons and stored runs: saving a completion, remembering run ids, a matrix rebuilt from runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from promptkit.evaluation.checks import run_checks
from promptkit.evaluation.matrix import RunSink
from promptkit.evaluation.results import Cell, MatrixResult, summarise
from promptkit.generation import Completion, GenerationSettings

if TYPE_CHECKING:  # for type hints only: the evaluation works without a store.
    from promptkit.store.records import FamilyRecord, RunRecord

# More versions than this side by side make the report hard to read.
MAX_REPORT_VERSIONS = 4


def save_completion(
    store: RunSink,
    *,
    family: str,
    version: int,
    model: str,
    completion: Completion,
    values: Mapping[str, str],
    settings: GenerationSettings,
    case_id: str | None,
) -> Any:
    """Saves one completion as a run.

    Args:
        store: where runs go, e.g. `promptkit.store.Store`.
        family: the family's name.
        version: the version number the prompt was rendered from.
        model: the model's name.
        completion: what the model generated.
        values: the values the prompt was rendered with.
        settings: the settings it was generated with.
        case_id: the test case the values came from, if any.

    Returns:
        What `store.add_run` returns (a `RunRecord` for the store).
    """
    return store.add_run(
        family=family,
        version=version,
        model=model,
        prompt=completion.prompt,
        completion=completion.text,
        variables=dict(values),
        generation=settings.to_dict(),
        seed=settings.seed if not settings.greedy else None,
        tokens=[token.to_dict() for token in completion.tokens],
        stop_reason=completion.stop_reason.value,
        timings=completion.timings,
        case_id=case_id,
    )


def record_playground_run(
    store: Any,
    *,
    family: str,
    parent: Any,
    text: str,
    note: str,
    model: str,
    completion: Completion,
    values: Mapping[str, str],
    settings: GenerationSettings,
    case: Any | None,
) -> tuple[Any, int | None]:
    """Saves a run generated from a template the user may have edited.

    An edited text becomes a new version first (after generating, so a
    prompt the model refused leaves no version behind), and the run is
    recorded under it; the run names the test case only when the values are
    still the case's.

    Args:
        store: a `promptkit.store.Store`.
        family: the family's name.
        parent: the version the text was loaded from (`number`, `text`).
        text: the template text as generated from.
        note: the user's note for a new version; a default says it was saved when generating.
        model: the model's name.
        completion: what the model generated.
        values: the values the prompt was rendered with.
        settings: the settings it was generated with.
        case: the test case picked to fill the blanks (`id`, `values`), if any.

    Returns:
        The run record, and the new version's number (None when the text was unchanged).
    """
    saved = None
    if text != parent.text:
        saved = store.add_version(
            family=family, text=text, author="dashboard", parent=parent.number,
            note=note.strip() or "Edited in the Playground (saved automatically when generating).",
        ).number
    same_values = case is not None and all(case.values.get(name) == value for name, value in values.items())
    run = save_completion(
        store, family=family, version=saved or parent.number, model=model, completion=completion, values=values,
        settings=settings, case_id=case.id if same_values else None,
    )
    return run, saved


class RecordingSink:
    """Forwards runs to a store and remembers their ids by (version, prompt).

    `run_matrix` saves each cell but returns no run ids; a caller that wants
    to open a cell's run later (e.g. in the Salience page) looks it up here.

    Args:
        store: where the runs go, e.g. `promptkit.store.Store`.
    """

    def __init__(self, store: RunSink) -> None:
        self.store = store
        self.run_ids: dict[tuple[int, str], int] = {}

    def add_run(self, **fields: Any) -> Any:
        """Saves a run through the store and records its id.

        Args:
            **fields: the arguments of `RunSink.add_run`.

        Returns:
            The store's record of the run.
        """
        record = self.store.add_run(**fields)
        self.run_ids[(int(fields["version"]), fields["prompt"])] = record.id
        return record


def matrix_from_runs(
    family: FamilyRecord, runs: Sequence[RunRecord], *, max_versions: int = MAX_REPORT_VERSIONS
) -> MatrixResult:
    """Rebuilds a comparison from the newest stored run of each (version, case).

    Args:
        family: the stored family the runs belong to.
        runs: its runs, in any order; runs without a test case, or of a case
            or version the family lacks, are left out.
        max_versions: keep only this many versions, the newest.

    Returns:
        The matrix, with the checks run again on the stored completions; a
        (version, case) pair without a run is a cell with the error
        "not run yet".
    """
    cases = {case.id: case for case in family.cases}
    versions = {version.number: version for version in family.versions}
    newest: dict[tuple[int, str], RunRecord] = {}
    for run in sorted(runs, key=lambda r: r.id):
        if run.case_id in cases and run.version in versions:
            newest[(run.version, run.case_id)] = run
    numbers = sorted({number for number, _ in newest})[-max_versions:]
    case_ids = [case_id for case_id in cases if any((n, case_id) in newest for n in numbers)]
    cells = []
    for number in numbers:
        for case_id in case_ids:
            found = newest.get((number, case_id))
            if found is None:
                cells.append(Cell(version=number, case=case_id, prompt=None, error="not run yet"))
                continue
            expect = cases[case_id].expect
            checks = tuple(run_checks(expect, prompt=found.prompt, completion=found.completion)) if expect else ()
            cells.append(
                Cell(
                    version=number,
                    case=case_id,
                    prompt=found.prompt,
                    completion=found.completion,
                    checks=checks,
                    acceptable=tuple(expect.labels) if expect else (),
                    error=found.error,
                )
            )
    labels = tuple(family.candidate_labels)
    return MatrixResult(
        model=", ".join(sorted({run.model for run in newest.values()})),
        family=family.name,
        versions=tuple(versions[n].as_version() for n in numbers),
        cases=tuple(cases[c] for c in case_ids),
        cells=tuple(cells),
        summary={n: summarise([c for c in cells if c.version == n], labels=labels) for n in numbers},
        labels=labels,
    )


_COMPARISON = "compare"  # First word of every comparison's review subject.


def comparison_subject(family: str, *, versions: Sequence[int], case_ids: Sequence[str]) -> str:
    """The review subject naming one comparison: family, versions and cases.

    Reviews of the same versions over the same cases share the subject, so a
    comparison run again later shows the verdicts already given on it.
    """
    version_part = ",".join(f"v{number}" for number in versions)
    return f"{_COMPARISON} {family} {version_part} over {', '.join(case_ids)}"


def stored_heatmaps(
    store: Any, runs: Sequence[Any], *, granularity: str = "sentences", gain: float = 0.4
) -> dict[str, Any]:
    """Salience heatmaps of the runs' stored scores, for the HTML report.

    Args:
        store: a `promptkit.store.Store`.
        runs: the runs the report covers.
        granularity: how the heatmaps group tokens.
        gain: colormap intensity, 0–1.

    Returns:
        Caption → Plotly heatmap, one per stored (run, target span, method),
        in the order they were computed. Nothing is recomputed.
    """
    from promptkit.salience import SalienceResult, score_title, text_heatmap

    by_id = {run.id: run for run in runs}
    figures = {}
    for record in store.list_salience(run_ids=list(by_id)):
        run = by_id[record.run_id]
        result = SalienceResult.from_token_scores(
            model=run.model,
            prompt=run.prompt,
            target=run.completion,
            method=record.method,
            tokens=record.scores,
            target_start=record.target_start,
            target_end=record.target_end,
        )
        target = run.completion[record.target_start : record.target_end].strip()
        caption = f"Run #{run.id} · v{run.version} · {run.case_id or 'ad hoc'} · {record.method} · explaining “{target}”"
        figures[caption] = text_heatmap(result.segments(granularity), gain=gain, score=score_title(record.method))
    return figures


def reviews_of_family(reviews: Sequence[Any], *, family: str, run_ids: Sequence[int]) -> list[Any]:
    """The reviews of the given runs and of comparisons within `family`."""
    prefix = f"{_COMPARISON} {family} "
    return [r for r in reviews if r.run_id in set(run_ids) or (r.subject or "").startswith(prefix)]

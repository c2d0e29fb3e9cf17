"""Comparisons and stored runs: remembering run ids, review subjects, stored heatmaps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from promptkit.generation import Completion, GenerationSettings

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from promptkit.store import Store
    from promptkit.store.records import RunRecord

# More versions than this side by side make the report hard to read.
MAX_REPORT_VERSIONS = 4


class RecordingSink:
    """Forwards runs to a store and remembers their ids by (version number, prompt).

    `run_matrix` saves each cell but returns no run ids; a caller that wants
    to open a cell's run later (e.g. in the Salience page) looks it up here.

    Args:
        store: where the runs go.
        created_by: who generates them (a person's key), recorded with each run.
    """

    def __init__(self, store: Store, *, created_by: str = "") -> None:
        self.store = store
        self.created_by = created_by
        self.run_ids: dict[tuple[int, str], int] = {}

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
        """Saves a generation through the store and records its id.

        Args:
            family: the family's name.
            version: the version's number or label.
            model: the model's name.
            completion: what the model generated.
            values: the values the prompt was rendered with.
            settings: the settings it was generated with.
            case_id: the stored test case the values came from, if any.

        Returns:
            The store's record of the run.
        """
        return self._remember(
            self.store.add_run(
                family=family, version=version, model=model, completion=completion, values=values,
                settings=settings, case_id=case_id, created_by=self.created_by,
            )
        )

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
        """Saves a failed generation through the store and records its id.

        Args:
            family: the family's name.
            version: the version's number or label.
            model: the model's name.
            prompt: the rendered prompt.
            values: the values the prompt was rendered with.
            settings: the settings it was to be generated with.
            error: why it failed.
            case_id: the stored test case the values came from, if any.

        Returns:
            The store's record of the run.
        """
        return self._remember(
            self.store.add_failed_run(
                family=family, version=version, model=model, prompt=prompt, values=values, settings=settings,
                error=error, case_id=case_id, created_by=self.created_by,
            )
        )

    def _remember(self, record: RunRecord) -> RunRecord:
        """Records the run's id under its version number and prompt."""
        self.run_ids[(record.version, record.prompt)] = record.id
        return record


_COMPARISON = "compare"  # First word of every comparison's review subject.


def comparison_subject(family: str, *, versions: Sequence[int], case_ids: Sequence[str]) -> str:
    """The review subject naming one comparison: family, versions and cases.

    Reviews of the same versions over the same cases share the subject, so a
    comparison run again later shows the verdicts already given on it.
    """
    version_part = ",".join(f"v{number}" for number in versions)
    return f"{_COMPARISON} {family} {version_part} over {', '.join(case_ids)}"


def stored_heatmaps(
    store: Store, runs: Sequence[RunRecord], *, granularity: str = "sentences", gain: float = 0.4
) -> dict[str, str]:
    """Salience over the text of the runs' stored scores, for the HTML report.

    Args:
        store: a `promptkit.store.Store`.
        runs: the runs the report covers.
        granularity: how the heatmaps group tokens.
        gain: colormap intensity, 0–1.

    Returns:
        Caption → HTML (`promptkit.salience.text_heatmap_html`), one per
        stored (run, target span, method), in the order they were computed.
        Nothing is recomputed.
    """
    from promptkit.salience import SalienceResult, score_title, text_heatmap_html

    by_id = {run.id: run for run in runs}
    heatmaps = {}
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
            params={} if record.contrast is None else {"contrast": record.contrast},
        )
        target = run.completion[record.target_start : record.target_end].strip()
        rather = "" if record.contrast is None else f" rather than “{record.contrast.strip()}”"
        caption = f"Run #{run.id} · v{run.version} · {run.case_id or 'ad hoc'} · {record.method} · explaining “{target}”{rather}"
        heatmaps[caption] = text_heatmap_html(result.segments(granularity), gain=gain, score=score_title(record.method))
    return heatmaps


def stored_matrix_figures(
    store: Store, runs: Sequence[RunRecord], *, granularity: str = "sentences", rows: str = "words", gain: float = 0.4
) -> dict[str, go.Figure]:
    """Token-by-token matrices stored for the runs, as figures for the HTML report.

    Args:
        store: a `promptkit.store.Store`.
        runs: the runs the report covers.
        granularity: how each matrix's columns (the prompt's pieces) group.
        rows: how its rows (the answer's pieces) group.
        gain: colormap intensity, 0–1.

    Returns:
        Caption → Plotly matrix figure, one per stored (run, model, method,
        parameters), in the order they were computed. Nothing is recomputed.
    """
    from promptkit.salience import TokenMatrix, score_title, token_matrix_figure

    by_id = {run.id: run for run in runs}
    figures = {}
    for record in store.list_token_matrices(run_ids=list(by_id)):
        run = by_id[record.run_id]
        grouped = TokenMatrix.from_stored(record.matrix).segments(granularity, rows=rows)
        settings = ", ".join(f"{name} {value}" for name, value in sorted(record.params.items()))
        caption = (
            f"Run #{run.id} · v{run.version} · {run.case_id or 'ad hoc'} · {record.method}"
            + (f" ({settings})" if settings else "") + f" · {record.model} · every {rows[:-1]} of the answer"
        )
        figures[caption] = token_matrix_figure(grouped, gain=gain, score=score_title(record.method))
    return figures

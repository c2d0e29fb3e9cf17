"""A/B evaluation of template versions: checks, outcome likelihoods, stability, reports.

Plain Python and numpy; models come in through `promptkit.models.api.LanguageModel`
and `promptkit.models.api.CandidateScorer`, so nothing here imports TensorFlow.

Public API:
    run_matrix(model, family, *, versions, cases, scorer=None, samples=0, ...) -> MatrixResult
    run_matrix_on(engine, family, *, versions, cases, ..., on_cells=None, finished=()) -> MatrixResult
    LocalEngine(model, scorer=None): an `Engine` in this process; `promptkit.evaluation.ray_engine.RayEngine`
        runs batches on Ray workers (Ray is imported only there, when one is opened)
    run_checks(expectation, *, prompt, completion) -> list[CheckResult]
    outcome_likelihoods(scorer, prefixes, candidates) -> list[dict[str, float]]
    classifier_metrics(acceptable, likelihoods, *, labels) -> ClassifierMetrics
    agreement_rate(outcomes) -> float | None
    RecordingSink(store); comparison_subject(family, *, versions, case_ids);
    summary_figure(result) -> plotly Figure; render_report(result, ...) -> HTML text
"""

from promptkit.evaluation.checks import CheckResult, find_line, line_of_interest, run_checks
from promptkit.evaluation.matrix import Engine, LocalEngine, RunSink, run_matrix, run_matrix_on, version_settings
from promptkit.evaluation.outcomes import (
    ClassifierMetrics,
    classifier_metrics,
    normalise,
    outcome_likelihoods,
    outcome_prefix,
)
from promptkit.evaluation.results import Cell, MatrixResult, VersionSummary
from promptkit.evaluation.runs import (
    RecordingSink,
    comparison_subject,
    stored_heatmaps,
)
from promptkit.evaluation.stability import agreement_rate, sample_outcome

__all__ = [
    "Cell",
    "CheckResult",
    "ClassifierMetrics",
    "Engine",
    "LocalEngine",
    "MatrixResult",
    "RecordingSink",
    "RunSink",
    "VersionSummary",
    "agreement_rate",
    "classifier_metrics",
    "comparison_subject",
    "find_line",
    "line_of_interest",
    "normalise",
    "outcome_likelihoods",
    "outcome_prefix",
    "run_checks",
    "run_matrix",
    "run_matrix_on",
    "sample_outcome",
    "stored_heatmaps",
    "version_settings",
]

"""The jobs users do, one function each, called alike by the CLI and the dashboard.

A workflow takes what the user picked, calls the library and the store, and
returns records; neither front end assembles those calls itself.

Public API:
    check_request(store, request, *, actor)                       (before loading a model)
    run_comparison(store, model, request, *, actor, scorer=None, progress=None) -> StoredComparison
    run_comparison_on(store, engine, request, *, actor, progress=None) -> StoredComparison  (local or Ray workers)
    check_resume(store, comparison_id, *, actor) -> ComparisonRecord  (before loading a model)
    resume_comparison(store, engine, comparison_id, *, actor, progress=None) -> StoredComparison  (missing cells only)
    load_comparison(store, comparison_id) -> StoredComparison      (no model needed)
    comparison_report(store, comparison_id, *, actor, with_matrices=False) -> HTML text  (no model needed)
    write_comparison_report(store, comparison_id, path, *, actor, with_matrices=False)
    explain_text(engine, prompt, target, SpanRequest) -> SalienceResult       (the salience command)
    explain_tokens(engine, prompt, target, *, method, params) -> TokenMatrix  (the attribute command)
    explain_run(store, engine | None, run, SpanRequest, *, actor) -> SalienceResult  (kept with the run)
    explain_run_tokens(store, engine | None, run, *, method, params, actor) -> TokenMatrix  (kept with the run)
    ExplanationLink.parse(query) / .query()                         (the Salience page's links)
    save_version(store, *, actor, family, parent, text, note) -> VersionRecord
    record_playground_run(store, *, actor, ...) -> (run, new version number or None)
    completion_steps(model, *, prompt, completion, token_ids=None) -> [StepScore]  (the shared scorer)
    give_verdict(store, *, actor, verdict, comment, run_id | subject + comparison_id) -> ReviewRecord
    set_review_task(store, *, actor, comparison_id, ..., mode="pairwise"|"rubric") -> ReviewTaskRecord
    review_items(store, *, actor, task_id) -> [ReviewItem]            (blind, per reviewer)
    judge_item(store, *, actor, task_id, case_id, pair, verdict)
    rubric_items(store, *, actor, task_id) -> [RubricItem]            (version hidden, order per reviewer)
    score_item(store, *, actor, task_id, case_id, version, scores, comment)
    task_summary(store, *, actor, task_id) -> `reviews --task` JSON
    prepare_tuning(store, request, *, actor) -> TuningData          (before loading a model)
    run_tuning(store, model, request, *, actor, progress=None, should_stop=None) -> TuneResult
    case_from_judgements(store, *, actor, task_id, case_id, pair) -> TestCase  (the agreed answer expected)
"""

from promptkit.workflows.compare import (
    ComparisonRequest,
    StoredComparison,
    check_request,
    check_resume,
    load_comparison,
    resume_comparison,
    run_comparison,
    run_comparison_on,
)
from promptkit.workflows.explain import (
    ExplanationLink,
    ExplanationNotStored,
    ExplanationStopped,
    SpanRequest,
    explain_run,
    explain_run_tokens,
    explain_text,
    explain_tokens,
    matrix_params,
)
from promptkit.workflows.playground import completion_steps, give_verdict, record_playground_run, save_version
from promptkit.workflows.report import comparison_report, write_comparison_report
from promptkit.workflows.review import (
    ReviewItem,
    RubricItem,
    case_from_judgements,
    judge_item,
    review_items,
    rubric_items,
    score_item,
    set_review_task,
    task_summary,
)
from promptkit.workflows.tune import (
    TuneRequest,
    TuneResult,
    TuningData,
    prepare_tuning,
    run_tuning,
    suggest_adapter_name,
)

__all__ = [
    "ComparisonRequest",
    "ExplanationLink",
    "ExplanationNotStored",
    "ExplanationStopped",
    "ReviewItem",
    "RubricItem",
    "SpanRequest",
    "StoredComparison",
    "TuneRequest",
    "TuneResult",
    "TuningData",
    "case_from_judgements",
    "check_request",
    "check_resume",
    "comparison_report",
    "completion_steps",
    "explain_run",
    "explain_run_tokens",
    "explain_text",
    "explain_tokens",
    "give_verdict",
    "judge_item",
    "load_comparison",
    "matrix_params",
    "prepare_tuning",
    "record_playground_run",
    "resume_comparison",
    "review_items",
    "rubric_items",
    "run_comparison",
    "run_comparison_on",
    "run_tuning",
    "save_version",
    "score_item",
    "set_review_task",
    "suggest_adapter_name",
    "task_summary",
    "write_comparison_report",
]

"""Explaining an answer: one span of it with a method (and a contrast), or every token at once (the token matrix).

The CLI's `salience` and `attribute` commands explain texts
(`explain_text`, `explain_tokens`); the dashboard's Salience page explains
stored runs (`explain_run`, `explain_run_tokens`), which keeps what it
computes with the run: a span's token scores per span, method, contrast and
parameters, a token matrix per model, method and parameters. Re-opening them
(a link, a report) reads the store and regroups the kept scores at any
granularity, without the model.

A long computation stops when its `on_progress` callback raises (the
dashboard's Stop does, through Streamlit's rerun) or when `should_stop`
returns True: between two blocks of `ROWS_PER_PASS` rows, with the model's
lock free, and the rows finished so far kept in the engine, so asking again
computes only the others.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any

from promptkit.errors import PromptkitError, SalienceError
from promptkit.people import Role
from promptkit.salience.engine import SalienceEngine
from promptkit.salience.methods import get_method, matrix_method_names, method_names, resolve_params
from promptkit.salience.results import SalienceResult
from promptkit.salience.segmentation import GRANULARITIES, PartLike
from promptkit.salience.targets import CharRange, Selection, WholeTarget
from promptkit.salience.token_matrix import HEAD_AGGREGATIONS, TokenMatrix
from promptkit.store import RunRecord, SalienceRecord, Store

Progress = Callable[[int, int], None]


class ExplanationStopped(PromptkitError):
    """The person stopped an explanation while it computed; the rows finished are kept in the engine."""


class ExplanationNotStored(PromptkitError):
    """An explanation asked for without a model is not in the store."""


@dataclasses.dataclass(frozen=True)
class SpanRequest:
    """What to explain in one span, and how.

    Attributes:
        method: a method that explains a span (`method_names()`).
        selection: the span, in the target (see `promptkit.salience.targets`).
        contrast: what the model could have written instead (gradient methods
            that allow it); None: the span on its own.
        granularity: the pieces a method that reads no gradients (occlusion)
            leaves out; gradient scores regroup at any granularity later.
        pattern: the regular expression of the `custom` granularity.
        parts: the prompt's template parts, for the `parts` granularity.
        params: the method's parameters beyond its defaults.
    """

    method: str = "grad_l2"
    selection: Selection = dataclasses.field(default_factory=WholeTarget)
    contrast: str | None = None
    granularity: str = "words"
    pattern: str | None = None
    parts: tuple[PartLike, ...] = ()
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def explain_text(
    engine: SalienceEngine, prompt: str, target: str, request: SpanRequest, *, on_progress: Progress | None = None
) -> SalienceResult:
    """Explains one span of `target` after `prompt` (the `salience` command's job).

    Args:
        engine: the model's salience engine (it caches results).
        prompt: the prompt text.
        target: the completion or reference text that follows it.
        request: the span, method, contrast and pieces.
        on_progress: called as `(pieces done, pieces)` while occlusion leaves pieces out.

    Returns:
        The token scores (occlusion: piece scores) of the span.

    Raises:
        SalienceError: as `SalienceEngine.explain` and `explain_occlusion`; a
            contrast with a method that takes none is refused by the engine.
    """
    method = get_method(request.method)
    if method.needs_gradients or request.contrast is not None:
        return engine.explain(
            prompt, target, selection=request.selection, method=method.name, contrast=request.contrast,
            **request.params,
        )
    return engine.explain_occlusion(
        prompt, target, selection=request.selection, granularity=request.granularity, parts=request.parts,
        pattern=request.pattern, on_progress=on_progress,
    )


def explain_run(
    store: Store,
    engine: SalienceEngine | None,
    run: RunRecord,
    request: SpanRequest,
    *,
    actor: str,
    target: str | None = None,
    on_progress: Progress | None = None,
) -> SalienceResult:
    """Explains a span of a run's completion (or of a reference text), from the store when it is kept there.

    A gradient explanation of the completion is looked up by its span,
    method, contrast and parameters, and computed and stored only when
    missing; with a model loaded, only that model's stored explanation is
    used. Occlusion and reference texts are computed, never stored.

    Args:
        store: where the run's explanations are kept.
        engine: the loaded model's engine; None: the store alone (the span
            must then be a `CharRange` of stored offsets, as a link gives).
        run: the run explained.
        request: the span, method, contrast and pieces.
        actor: who asks (a person's key); a viewer.
        target: a reference text explained instead of the completion.
        on_progress: called as `(pieces done, pieces)` while occlusion leaves pieces out.

    Returns:
        The span's scores.

    Raises:
        PermissionDenied: If the actor may not see runs.
        ExplanationNotStored: Without a model, for an explanation not in the store.
        SalienceError: A span outside the completion, or as `explain_text`.
    """
    store.require(actor, Role.VIEWER, action="see explanations")
    method = get_method(request.method)
    params = resolve_params(method, request.params)
    kept = target is None and method.needs_gradients
    if kept:
        span = _stored_span(run, request.selection, engine)
        if span is not None:
            record = store.get_salience(
                run_id=run.id, target_start=span[0], target_end=span[1], method=method.name,
                contrast=request.contrast, params=params, model=None if engine is None else engine.model.info.name,
            )
            if record is not None:
                return _stored_result(run, record)
    if engine is None:
        raise ExplanationNotStored(
            f"This explanation of run #{run.id} is not stored yet, and no model is loaded to compute it; "
            "pick a model in the sidebar."
        )
    result = explain_text(engine, run.prompt, run.completion if target is None else target, request, on_progress=on_progress)
    if kept:
        start, end = (offset - len(run.prompt) for offset in result.target_span)
        store.put_salience(
            run_id=run.id, target_start=start, target_end=end, method=method.name,
            scores=[{"text": t.text, "start": t.start, "end": t.end, "score": t.score} for t in result.tokens],
            contrast=request.contrast, params=params, model=result.model, loss=result.loss,
            details=result.details,
        )
    return result


def matrix_params(method: str, *, layers: str | None = None, heads: str | None = None) -> dict[str, Any]:
    """A token matrix method's parameters from the front ends' choices, with its defaults.

    Raises:
        SalienceError: an unknown method, or layers or heads given for a method that reads no attention.
    """
    chosen = get_method(method)
    if not chosen.reads_attention:
        if layers is not None or heads is not None:
            raise SalienceError("Layers and heads pick attention weights; they go with the attention method only.")
        return {}
    return resolve_params(chosen, {"layers": layers or "all", "heads": heads or "mean"})


def explain_tokens(
    engine: SalienceEngine,
    prompt: str,
    target: str,
    *,
    method: str,
    params: Mapping[str, Any],
    on_progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TokenMatrix:
    """Attribution of every target token to every token before it (the `attribute` command's job).

    Args:
        engine: the model's salience engine (it caches matrices).
        prompt: the prompt text.
        target: the completion or reference text.
        method: a method that fills a matrix (`matrix_method_names()`).
        params: its parameters (`matrix_params`).
        on_progress: called as `(rows done, rows)` after each block of rows.
        should_stop: asked after each block; True stops the computation.

    Returns:
        The matrix.

    Raises:
        ExplanationStopped: `should_stop` said so; the finished rows are kept in the engine.
        SalienceError: as `SalienceEngine.token_matrix`.
    """

    def progress(done: int, total: int) -> None:
        if on_progress is not None:
            on_progress(done, total)
        if should_stop is not None and done < total and should_stop():
            raise ExplanationStopped(f"Stopped after {done} of {total} tokens; asking again computes only the others.")

    return engine.token_matrix(prompt, target, method=method, on_progress=progress, **params)


def explain_run_tokens(
    store: Store,
    engine: SalienceEngine | None,
    run: RunRecord,
    *,
    method: str,
    params: Mapping[str, Any],
    actor: str,
    on_progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TokenMatrix:
    """A run's token matrix, from the store when it is kept there, else computed and kept with the run.

    Args:
        store: where the run's matrices are kept.
        engine: the loaded model's engine (its model's matrix is looked up);
            None: the store alone (the run's own model's matrix first, else
            the newest).
        run: the run whose completion is explained.
        method: a method that fills a matrix.
        params: its parameters (`matrix_params`).
        actor: who asks (a person's key); a viewer.
        on_progress: called as `(rows done, rows)` after each block of rows.
        should_stop: asked after each block; True stops the computation.

    Returns:
        The matrix.

    Raises:
        PermissionDenied: If the actor may not see runs.
        ExplanationNotStored: Without a model, for a matrix not in the store.
        ExplanationStopped, SalienceError: as `explain_tokens`.
    """
    store.require(actor, Role.VIEWER, action="see explanations")
    chosen = get_method(method)
    resolved = resolve_params(chosen, params)
    if engine is not None:
        record = store.get_token_matrix(run_id=run.id, model=engine.model.info.name, method=chosen.name, params=resolved)
    else:
        candidates = [
            stored for stored in store.list_token_matrices(run_ids=[run.id])
            if stored.method == chosen.name and dict(stored.params) == resolved
        ]
        record = max(candidates, key=lambda stored: (stored.model == run.model, stored.id), default=None)
    if record is not None:
        return TokenMatrix.from_stored(record.matrix)
    if engine is None:
        raise ExplanationNotStored(
            f"The token-by-token explanation of run #{run.id} with {chosen.title} is not stored yet, and no model "
            "is loaded to compute it; pick a model in the sidebar."
        )
    matrix = explain_tokens(
        engine, run.prompt, run.completion, method=chosen.name, params=resolved, on_progress=on_progress,
        should_stop=should_stop,
    )
    store.put_token_matrix(
        run_id=run.id, model=matrix.model, method=matrix.method, params=resolved, matrix=matrix.to_stored(),
        created_by=actor,
    )
    return matrix


SPAN_VIEW = "span"
TOKENS_VIEW = "tokens"
_LAYERS = re.compile(r"all|\d+(-\d+)?")


@dataclasses.dataclass(frozen=True)
class ExplanationLink:
    """An explanation's settings as a link's query parameters: what opens exactly that view again.

    Attributes:
        run_id: the run explained.
        view: `SPAN_VIEW` (one part of the answer) or `TOKENS_VIEW` (token by token).
        method: the method's name.
        granularity: how the prompt's pieces (the matrix's columns) group.
        aggregation: how a piece's token scores combine.
        span: the explained span's token extent, offsets into the completion (span view).
        contrast: the text the span is explained against (span view), if any.
        pattern: the `custom` granularity's regular expression.
        rows: how the matrix's rows group (tokens view).
        layers: attention's layers (`all`, `N`, `A-B`), tokens view with attention.
        heads: attention's head aggregation, tokens view with attention.
    """

    run_id: int
    view: str
    method: str
    granularity: str
    aggregation: str
    span: tuple[int, int] | None = None
    contrast: str | None = None
    pattern: str | None = None
    rows: str = "tokens"
    layers: str | None = None
    heads: str | None = None

    def query(self) -> dict[str, str]:
        """The query parameters, in a fixed order; `parse` reads them back."""
        query = {"run": str(self.run_id), "view": self.view, "method": self.method}
        if self.span is not None:
            query["span"] = f"{self.span[0]}-{self.span[1]}"
        if self.contrast is not None:
            query["contrast"] = self.contrast
        query["granularity"] = self.granularity
        if self.pattern is not None:
            query["pattern"] = self.pattern
        if self.view == TOKENS_VIEW:
            query["rows"] = self.rows
        query["aggregation"] = self.aggregation
        if self.layers is not None:
            query["layers"] = self.layers
        if self.heads is not None:
            query["heads"] = self.heads
        return query

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> ExplanationLink:
        """Reads a link's query parameters, refusing any that were not written by `query`.

        Raises:
            SalienceError: a parameter missing, malformed or unknown, saying which and what it may be.
        """

        def pick(name: str, allowed: tuple[str, ...], default: str | None = None) -> str:
            value = query.get(name, default)
            if value not in allowed:
                shown = "missing" if value is None else repr(value)
                raise SalienceError(f"This link's {name} is {shown}; it can be {', '.join(allowed)}. Check the link you were sent.")
            return value

        run = query.get("run", "")
        if not re.fullmatch("[0-9]+", run):
            raise SalienceError(f"This link names run {run!r}, which is not a run number; check the link you were sent.")
        view = pick("view", (SPAN_VIEW, TOKENS_VIEW))
        methods = method_names() if view == SPAN_VIEW else matrix_method_names()
        method = pick("method", methods)
        granularity = pick("granularity", GRANULARITIES)
        aggregation = pick("aggregation", get_method(method).aggregations)
        pattern = query.get("pattern")
        if pattern is not None and granularity != "custom" and query.get("rows") != "custom":
            raise SalienceError("This link gives a pattern without the custom granularity; check the link you were sent.")
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as error:
                raise SalienceError(f"This link's pattern is not a regular expression ({error}); check the link you were sent.") from None
        if view == SPAN_VIEW:
            span = _span(query.get("span", ""))
            contrast = query.get("contrast")
            if contrast is not None and (not contrast.strip() or not get_method(method).allows_contrast):
                raise SalienceError(
                    f"This link explains against {contrast!r} with {method}, which cannot be; check the link you were sent."
                )
            return cls(int(run), view, method, granularity, aggregation, span=span, contrast=contrast, pattern=pattern)
        rows = pick("rows", GRANULARITIES, "tokens")
        layers = heads = None
        if get_method(method).reads_attention:
            layers = query.get("layers", "all")
            if not _LAYERS.fullmatch(layers):
                raise SalienceError(f"This link's layers are {layers!r}; they can be all, N or A-B. Check the link you were sent.")
            heads = pick("heads", HEAD_AGGREGATIONS, "mean")
        return cls(int(run), view, method, granularity, aggregation, pattern=pattern, rows=rows, layers=layers, heads=heads)

    def check(self, run: RunRecord) -> None:
        """Checks the link against its run: the span lies in the completion.

        Raises:
            SalienceError: the span is outside the run's completion.
        """
        if self.span is not None and not self.span[1] <= len(run.completion):
            raise SalienceError(
                f"This link explains characters {self.span[0]}–{self.span[1]} of run #{run.id}, whose answer has "
                f"{len(run.completion)}; check the link you were sent."
            )

    @property
    def matrix_params(self) -> dict[str, Any]:
        """The matrix method's parameters (tokens view)."""
        return matrix_params(self.method, layers=self.layers, heads=self.heads)


def open_linked_run(store: Store, link: ExplanationLink, *, actor: str) -> RunRecord:
    """The run a link explains, if the person may see it and the link fits it.

    Raises:
        PermissionDenied: If the actor may not see runs.
        StoreError: If there is no such run.
        SalienceError: If the link does not fit it (a span outside its answer, or a run that failed).
    """
    store.require(actor, Role.VIEWER, action="see explanations")
    run = store.get_run(run_id=link.run_id)
    if run.error or not run.completion.strip():
        raise SalienceError(f"Run #{run.id} has no answer to explain; check the link you were sent.")
    link.check(run)
    return run


def _span(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)-(\d+)", text)
    if match is None or int(match.group(1)) >= int(match.group(2)):
        raise SalienceError(
            f"This link's span is {text!r}; it must be START-END, characters of the answer with START < END. "
            "Check the link you were sent."
        )
    return int(match.group(1)), int(match.group(2))


def _stored_span(run: RunRecord, selection: Selection, engine: SalienceEngine | None) -> tuple[int, int] | None:
    """The span's token extent as offsets into the completion (the store's key), or None when it cannot be told."""
    if engine is not None:
        return engine.target_span(run.prompt, run.completion, selection)
    if isinstance(selection, CharRange):
        return selection.start, selection.end
    return None


def _stored_result(run: RunRecord, record: SalienceRecord) -> SalienceResult:
    """A stored explanation as the result its computation gave."""
    params = dict(record.params)
    if record.contrast is not None:
        params["contrast"] = record.contrast
    return SalienceResult.from_token_scores(
        model=record.model or run.model, prompt=run.prompt, target=run.completion, method=record.method,
        tokens=record.scores, target_start=record.target_start, target_end=record.target_end, params=params,
        loss=float("nan") if record.loss is None else record.loss, details=record.details,
    )

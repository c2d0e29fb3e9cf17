"""Computes token salience for a prompt + target, caching results in-process.

Results are cached by (model name, prompt, target, selected target tokens,
method, method parameters, contrast), occlusion ones by their granularity
instead of parameters and contrast, token-by-token matrices by (model,
prompt, target, method, parameters) and the attention weights behind them
by (model, prompt, target) alone, so picking other layers or heads reads
the model no more. Segments, aggregation and colours are derived from the
cached token scores (`SalienceResult.segments`, `TokenMatrix.segments`), so
switching them never recomputes gradients; `SalienceEngine.gradient_calls`
counts the backend calls, for tests and progress displays.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from promptkit.errors import SalienceError
from promptkit.models.api import AttentionBackend, AttentionReading, ContinuationScoring, GradientBackend, LanguageModel
from promptkit.salience.contrast import ContrastiveGradients, contrast_sequences
from promptkit.salience.methods import (
    Compute,
    SalienceMethod,
    get_method,
    matrix_method_names,
    require_contrast,
    resolve_params,
)
from promptkit.salience.occlusion import explain_occlusion
from promptkit.salience.results import SalienceResult, scored_tokens
from promptkit.salience.segmentation import PartLike, Segment
from promptkit.salience.targets import Selection, WholeTarget, select_tokens
from promptkit.salience.token_matrix import (
    ROWS_PER_PASS,
    PartialRows,
    TokenMatrix,
    attention_values,
    build_matrix,
    gradient_rows,
    reading_steps,
)
from promptkit.tokenization import TokenSpan


@dataclasses.dataclass(frozen=True)
class _Tokenized:
    """A prompt and a target, tokenized separately, with their tokens' character spans."""

    prompt_ids: list[int]
    target_ids: list[int]
    prompt_spans: Sequence[TokenSpan]
    target_spans: Sequence[TokenSpan]


class SalienceEngine:
    """Explains targets of one model, caching token scores.

    Args:
        model: a loaded model.
        backend: computes gradients; default the model's shared one
            (`model.companions.gradients`, compiled once per model, on first use).
        scorer: scores continuations, for occlusion and the step scores of
            token-by-token matrices; default the model's shared one.
        attention: reads attention weights, for the `attention` matrix;
            default the model's shared one.
    """

    def __init__(
        self,
        model: LanguageModel,
        *,
        backend: GradientBackend | None = None,
        scorer: ContinuationScoring | None = None,
        attention: AttentionBackend | None = None,
    ) -> None:
        self.model = model
        self._backend = backend
        self._scorer = scorer
        self._attention = attention
        self._cache: dict[tuple[Any, ...], SalienceResult] = {}
        self._matrices: dict[tuple[Any, ...], TokenMatrix] = {}
        self._readings: dict[tuple[Any, ...], AttentionReading] = {}
        self._partial: dict[tuple[Any, ...], PartialRows] = {}
        self._lock = threading.Lock()
        self.gradient_calls = 0

    @property
    def backend(self) -> GradientBackend:
        """The gradient backend."""
        return self._backend or self.model.companions.gradients

    @property
    def scorer(self) -> ContinuationScoring:
        """The continuation scorer."""
        return self._scorer or self.model.companions.scorer

    @property
    def attention(self) -> AttentionBackend:
        """The attention reader."""
        return self._attention or self.model.companions.attention

    def clear_cache(self) -> None:
        """Forgets every cached result."""
        with self._lock:
            self._cache.clear()
            self._matrices.clear()
            self._readings.clear()
            self._partial.clear()

    def explain(
        self,
        prompt: str,
        target: str,
        *,
        selection: Selection = WholeTarget(),
        method: str = "grad_l2",
        contrast: str | None = None,
        **params: Any,
    ) -> SalienceResult:
        """Token salience of one target span, optionally against a contrast text.

        Args:
            prompt: the prompt text.
            target: the completion or reference text that follows it.
            selection: the span to explain (see `promptkit.salience.targets`).
            method: a registered method name.
            contrast: what the model could have written instead of the span
                (a foil): the scores then explain L(span) − L(foil), see
                `promptkit.salience.contrast`; each new one costs two
                backend calls (span and foil sequences). Only methods
                declared `allows_contrast` take one.
            **params: the method's parameters (e.g. `steps=32`).

        Returns:
            The result, cached. With a contrast, `loss` is L(span), `details`
            hold `foil_loss` and `log_odds` = L(foil) − L(span) (positive:
            the model prefers the span) and `params` hold the `contrast`.

        Raises:
            SalienceError: as `explain_many`; with a contrast also a method
                that refuses one, an empty contrast text or one that is the
                span itself.
        """
        if contrast is None:
            return self.explain_many(prompt, target, [selection], method=method, **params)[0]
        chosen = get_method(method)
        require_contrast(chosen)
        compute = self._compute_of(chosen)
        resolved = resolve_params(chosen, params)
        tokenized = self._tokenize(prompt, target)
        span = select_tokens(target, tokenized.target_spans, selection)
        sequences = contrast_sequences(
            self.model, tokenized.prompt_ids, tokenized.target_ids, target, tokenized.target_spans, span, contrast
        )
        key = self._key(prompt, target, span, chosen, resolved, contrast)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        foil = self.backend.gradients(*sequences.foil_sequence())
        output = compute(
            ContrastiveGradients(self.backend, foil, len(sequences.context)), *sequences.span_sequence(), **resolved
        )
        span_loss, foil_loss = float(output.losses[0]), float(foil.losses[0])
        result = self._result(
            prompt, target, tokenized, output.scores[0], span, chosen, {**resolved, "contrast": contrast},
            loss=span_loss, details={**output.details[0], "foil_loss": foil_loss, "log_odds": foil_loss - span_loss},
        )
        with self._lock:
            self.gradient_calls += 2
            self._cache[key] = result
        return result

    def target_span(self, prompt: str, target: str, selection: Selection) -> tuple[int, int]:
        """The character extent of the tokens `selection` picks, as offsets into `target` (tokenizing only).

        Raises:
            SalienceError: as `explain`'s selection.
        """
        tokenized = self._tokenize(prompt, target)
        first, last = select_tokens(target, tokenized.target_spans, selection)
        return tokenized.target_spans[first].start, tokenized.target_spans[last - 1].end

    def explain_occlusion(
        self,
        prompt: str,
        target: str,
        *,
        selection: Selection = WholeTarget(),
        granularity: str = "lines",
        parts: Iterable[PartLike] = (),
        pattern: str | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> SalienceResult:
        """What leaving out each piece does to the span: see `promptkit.salience.occlusion`.

        Cached by (model, prompt, target, selection, granularity, parts,
        pattern); each new one costs one forward pass per piece.

        Raises:
            SalienceError: as `explain_occlusion` in `promptkit.salience.occlusion`.
        """
        parts = tuple(parts)
        spans = tuple((part.name, part.start, part.end) for part in parts)
        key = ("occlusion", self.model.info.name, prompt, target, selection, granularity, spans, pattern)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        result = explain_occlusion(
            self.model, self.scorer, prompt, target, selection=selection, granularity=granularity, parts=parts,
            pattern=pattern, on_progress=on_progress,
        )
        with self._lock:
            self._cache[key] = result
        return result

    def explain_many(
        self, prompt: str, target: str, selections: Sequence[Selection], *, method: str = "grad_l2", **params: Any
    ) -> list[SalienceResult]:
        """Token salience of several spans of one target, in one batched pass.

        Args:
            prompt: the prompt text.
            target: the completion or reference text that follows it.
            selections: the spans to explain (see `promptkit.salience.targets`).
            method: a registered method name.
            **params: the method's parameters (e.g. `steps=32`).

        Returns:
            One result per selection, in order; cached ones are reused and
            only the others are computed, all in one backend call.

        Raises:
            SalienceError: empty prompt or target, span not found, sequence
                longer than the model's context, unknown method or parameter,
                or a method that reads no gradients.
        """
        chosen = get_method(method)
        compute = self._compute_of(chosen)
        resolved = resolve_params(chosen, params)
        tokenized = self._tokenize(prompt, target)
        self._check_length(tokenized)
        spans = [select_tokens(target, tokenized.target_spans, selection) for selection in selections]
        keys = [self._key(prompt, target, span, chosen, resolved, None) for span in spans]
        with self._lock:
            missing = sorted({span for key, span in zip(keys, spans) if key not in self._cache})
        if missing:
            ids = np.array([self.model.vocabulary.bos_id, *tokenized.prompt_ids, *tokenized.target_ids], dtype=np.int32)
            first_target = 1 + len(tokenized.prompt_ids)
            masks = np.zeros((len(missing), len(ids)), dtype=bool)
            for row, (first, last) in enumerate(missing):
                masks[row, first_target + first : first_target + last] = True
            output = compute(self.backend, ids, masks, **resolved)
            results = {
                span: self._result(
                    prompt, target, tokenized, output.scores[row], span, chosen, resolved,
                    loss=float(output.losses[row]), details=output.details[row],
                )
                for row, span in enumerate(missing)
            }
            with self._lock:
                self.gradient_calls += 1
                for span, result in results.items():
                    self._cache[self._key(prompt, target, span, chosen, resolved, None)] = result
        with self._lock:
            return [self._cache[key] for key in keys]

    def token_matrix(
        self,
        prompt: str,
        target: str,
        *,
        method: str = "grad_l2",
        on_progress: Callable[[int, int], None] | None = None,
        **params: Any,
    ) -> TokenMatrix:
        """Attribution of every target token to every token before it (see `promptkit.salience.token_matrix`).

        Args:
            prompt: the prompt text.
            target: the completion or reference text that follows it.
            method: a registered method that fills a matrix (`matrix_method_names`).
            on_progress: called with `(rows done, rows)` as blocks of rows
                finish, between backend calls: an exception it raises stops
                the computation with the model's lock free, and the rows
                finished so far are kept, so the next call for the same matrix
                computes only the others.
            **params: the method's parameters (e.g. `steps=32`; attention:
                `layers="all" | N | "A-B"`, `heads="mean" | "max"`).

        Returns:
            The matrix, cached; each new gradient one costs one backend call
            per `ROWS_PER_PASS` rows (counted in `gradient_calls`) and one
            step-score pass, an attention one a single pass per prompt and
            target whatever its layers and heads.

        Raises:
            SalienceError: an empty prompt or target, a sequence longer than
                the model's context, a method that fills no matrix, or an
                unknown parameter, layer or head aggregation.
        """
        chosen = get_method(method)
        if method not in matrix_method_names():
            raise SalienceError(
                f"{chosen.title.capitalize()} explains pieces, not tokens one by one; "
                f"token by token works with {', '.join(matrix_method_names())}."
            )
        resolved = resolve_params(chosen, params)
        tokenized = self._tokenize(prompt, target)
        if not tokenized.target_ids:
            raise SalienceError("The target is empty; give a reference text or generate a completion first.")
        self._check_length(tokenized)
        key = ("matrix", self.model.info.name, prompt, target, chosen.name, tuple(sorted(resolved.items())))
        with self._lock:
            cached = self._matrices.get(key)
        if cached is not None:
            return cached
        ids = np.array([self.model.vocabulary.bos_id, *tokenized.prompt_ids, *tokenized.target_ids], dtype=np.int32)
        rows = len(tokenized.target_ids)
        started = time.perf_counter()
        if chosen.reads_attention:
            reading = self._attention_reading(prompt, target, ids, rows)
            attributed = time.perf_counter()
            scores = attention_values(reading.weights, layers=resolved["layers"], heads=resolved["heads"])
            steps = reading_steps(reading, tokenized.target_spans, self.model.vocabulary)
            details: tuple[Mapping[str, float], ...] = tuple({} for _ in range(rows))
            if on_progress is not None:
                on_progress(rows, rows)
        else:
            with self._lock:
                partial = self._partial.setdefault(key, PartialRows.empty(rows, len(ids)))
            resumed = partial.done
            try:
                scores, details = gradient_rows(
                    chosen, self.backend, ids, rows, resolved, on_progress=on_progress, partial=partial
                )
            finally:
                with self._lock:
                    self.gradient_calls += -(-(partial.done - resumed) // ROWS_PER_PASS)
            attributed = time.perf_counter()
            steps = self.scorer.step_scores(ids[: 1 + len(tokenized.prompt_ids)].tolist(), tokenized.target_ids)
        finished = time.perf_counter()
        placed = scored_tokens(tokenized.prompt_spans, tokenized.target_spans, np.zeros(len(ids) - 1), prompt_length=len(prompt))
        matrix = build_matrix(
            model_name=self.model.info.name,
            prompt=prompt,
            target=target,
            method=chosen,
            params=resolved,
            tokens=[Segment(token.text, token.start, token.end) for token in placed],
            prompt_tokens=len(tokenized.prompt_ids),
            sequence_scores=scores,
            steps=steps,
            details=details,
            timings={
                "attribution_s": attributed - started,
                "step_scores_s": finished - attributed,
                "total_s": finished - started,
            },
        )
        with self._lock:
            self._matrices[key] = matrix
            self._partial.pop(key, None)
        return matrix

    def _attention_reading(self, prompt: str, target: str, ids: np.ndarray, rows: int) -> AttentionReading:
        """The attention weights and step scores of one prompt and target, read once."""
        key = ("attention", self.model.info.name, prompt, target)
        with self._lock:
            cached = self._readings.get(key)
        if cached is None:
            cached = self.attention.read(ids, rows)
            with self._lock:
                self._readings[key] = cached
        return cached

    def _check_length(self, tokenized: _Tokenized) -> None:
        """Raises SalienceError when `<bos>` + prompt + target exceed the model's context."""
        length = 1 + len(tokenized.prompt_ids) + len(tokenized.target_ids)
        if length > self.model.info.context_length:
            raise SalienceError(
                f"Prompt + target is {length} tokens, more than {self.model.info.name}'s context of "
                f"{self.model.info.context_length}; shorten the prompt or the target."
            )

    @staticmethod
    def _compute_of(method: SalienceMethod) -> Compute:
        """The method's `compute`.

        Raises:
            SalienceError: a method that reads no gradients (occlusion, attention).
        """
        if method.reads_attention:
            raise SalienceError(f"{method.name} scores tokens one by one only; use token_matrix.")
        if method.compute is None:
            raise SalienceError(
                f"{method.name} needs no gradients and explains one granularity at a time; use explain_occlusion."
            )
        return method.compute

    def _tokenize(self, prompt: str, target: str) -> _Tokenized:
        """Tokenizes prompt and target separately.

        Raises:
            SalienceError: an empty prompt.
        """
        if not prompt:
            raise SalienceError("The prompt is empty; write or render a prompt first.")
        prompt_ids, target_ids = self.model.tokenize(prompt), self.model.tokenize(target)
        return _Tokenized(
            prompt_ids,
            target_ids,
            self.model.token_spans(prompt_ids, source=prompt),
            self.model.token_spans(target_ids, source=target),
        )

    def _key(
        self, prompt: str, target: str, span: tuple[int, int], method: SalienceMethod, params: Mapping[str, Any], contrast: str | None
    ) -> tuple[Any, ...]:
        return (self.model.info.name, prompt, target, span, method.name, tuple(sorted(params.items())), contrast)

    def _result(
        self,
        prompt: str,
        target: str,
        tokenized: _Tokenized,
        sequence_scores: np.ndarray,
        span: tuple[int, int],
        method: SalienceMethod,
        params: Mapping[str, Any],
        *,
        loss: float,
        details: Mapping[str, float],
    ) -> SalienceResult:
        """A result from the scores of one sequence.

        Args:
            prompt: the prompt text.
            target: the target text.
            tokenized: their tokens.
            sequence_scores: one score per position of `<bos>` + prompt +
                target tokens, shape `(length,)`; a sequence cut after the
                span (a contrast's) leaves the later tokens at 0.
            span: `(first, last)`: the selected target tokens.
            method: the method that scored them.
            params: its parameters.
            loss: the span's loss.
            details: the method's extra numbers.

        Returns:
            The result over prompt + target.
        """
        scores = np.zeros(len(tokenized.prompt_ids) + len(tokenized.target_ids))
        # Position 0 is <bos>: it is not a token of the text, so it is dropped.
        scores[: len(sequence_scores) - 1] = sequence_scores[1:]
        return SalienceResult(
            model=self.model.info.name,
            prompt=prompt,
            target=target,
            method=method.name,
            signed=method.signed,
            params=dict(params),
            tokens=scored_tokens(tokenized.prompt_spans, tokenized.target_spans, scores, prompt_length=len(prompt)),
            target_tokens=(len(tokenized.prompt_ids) + span[0], len(tokenized.prompt_ids) + span[1]),
            loss=loss,
            details=dict(details),
        )

"""Computes token salience for a prompt + target, caching results in-process.

Results are cached by (model name, prompt, target, selected target tokens,
method, method parameters). Segments, aggregation and colours are derived
from the cached token scores (`SalienceResult.segments`), so switching them
never recomputes gradients; `SalienceEngine.gradient_calls` counts the
backend calls, for tests and progress displays.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from promptkit.errors import SalienceError
from promptkit.salience.aggregation import SegmentScores, aggregate
from promptkit.salience.methods import GradientBackend, get_method, resolve_params
from promptkit.salience.segmentation import PartLike, assign_tokens, segment_text
from promptkit.salience.targets import Selection, WholeTarget, select_tokens


@dataclasses.dataclass(frozen=True)
class TokenScore:
    """One token of prompt + target (`<bos>` is not listed) and its score."""

    text: str
    start: int
    end: int
    score: float


@dataclasses.dataclass(frozen=True)
class SalienceResult:
    """Token scores for one target span.

    Attributes:
        model: the model's name.
        prompt: the prompt text.
        target: the target text; offsets are into `prompt + target`.
        method: the method's name.
        signed: whether scores can be negative.
        params: the method parameters used.
        tokens: prompt then target tokens with scores.
        target_tokens: `(first, last)`: indices into `tokens` of the selected span.
        loss: the span's loss, Σ −log p over its tokens.
        details: extra numbers from the method (e.g. completeness error).
    """

    model: str
    prompt: str
    target: str
    method: str
    signed: bool
    params: Mapping[str, Any]
    tokens: tuple[TokenScore, ...]
    target_tokens: tuple[int, int]
    loss: float
    details: Mapping[str, float]

    @classmethod
    def from_token_scores(
        cls, *, model: str, prompt: str, target: str, method: str, tokens: Sequence[Mapping[str, Any]], target_start: int, target_end: int
    ) -> SalienceResult:
        """Rebuilds a result from stored token scores (as `Store.put_salience` keeps them).

        Args:
            model: the model's name.
            prompt: the prompt text.
            target: the target text that followed it.
            method: the method's name.
            tokens: `{"text", "start", "end", "score"}` per token, offsets into
                `prompt + target`.
            target_start: start of the explained span, offset into `target`.
            target_end: its end.

        Returns:
            A result whose `segments(...)` and figures work as for a fresh one.
        """
        scored = tuple(TokenScore(t["text"], int(t["start"]), int(t["end"]), float(t["score"])) for t in tokens)
        start, end = len(prompt) + target_start, len(prompt) + target_end
        inside = [i for i, t in enumerate(scored) if t.end > start and t.start < end]
        if not inside:
            raise SalienceError(f"no stored token lies in the target span [{target_start}, {target_end}).")
        return cls(
            model=model,
            prompt=prompt,
            target=target,
            method=method,
            signed=get_method(method).signed,
            params={},
            tokens=scored,
            target_tokens=(inside[0], inside[-1] + 1),
            loss=float("nan"),
            details={},
        )

    @property
    def text(self) -> str:
        """prompt + target."""
        return self.prompt + self.target

    @property
    def target_span(self) -> tuple[int, int]:
        """Character range of the selected target tokens in `text`."""
        first, last = self.target_tokens
        return self.tokens[first].start, self.tokens[last - 1].end

    @property
    def scores(self) -> np.ndarray:
        """Token scores, shape `(num_tokens,)`."""
        return np.array([token.score for token in self.tokens])

    def segments(
        self,
        granularity: str = "words",
        *,
        aggregation: str = "sum",
        pattern: str | None = None,
        parts: Iterable[PartLike] = (),
    ) -> SegmentScores:
        """Aggregates the cached token scores into segments (no model call).

        Args:
            granularity: see `promptkit.salience.segmentation.GRANULARITIES`.
            aggregation: `"sum"`, `"mean"` or `"max"`.
            pattern: regular expression for `custom`.
            parts: template parts for `parts` (objects with name/start/end).

        Returns:
            The segments, which also break where the prompt ends and where
            the selected span starts and ends, with their scores.
        """
        starts = [token.start for token in self.tokens]
        span_start, span_end = self.target_span
        segments = segment_text(
            self.text,
            granularity,
            token_starts=starts,
            pattern=pattern,
            parts=parts,
            cuts=(len(self.prompt), span_start, span_end),
        )
        owners = assign_tokens(segments, starts)
        scores = aggregate(self.scores, owners, len(segments), how=aggregation)
        in_target = np.array([span_start <= s.start and s.end <= span_end for s in segments])
        counts = np.bincount(owners, minlength=len(segments))
        return SegmentScores(tuple(segments), scores, in_target, self.signed, counts)


class SalienceEngine:
    """Explains targets of one model, caching token scores.

    Args:
        model: a loaded model (`GemmaModel`): `info.name`, `info.context_length`,
            `vocabulary.bos_id`, `tokenize`, `token_spans`.
        backend: computes gradients; default the model's shared
            `GradientComputer` (compiled once per model), imported only when
            first needed so this package stays TF-free.
    """

    def __init__(self, model: Any, *, backend: GradientBackend | None = None) -> None:
        self.model = model
        self._backend = backend
        self._cache: dict[tuple[Any, ...], SalienceResult] = {}
        self._lock = threading.Lock()
        self.gradient_calls = 0

    @property
    def backend(self) -> GradientBackend:
        """The gradient backend, built on first use."""
        if self._backend is None:
            from promptkit.models.gradients import gradient_computer

            self._backend = gradient_computer(self.model)
        return self._backend

    def clear_cache(self) -> None:
        """Forgets every cached result."""
        with self._lock:
            self._cache.clear()

    def explain(self, prompt: str, target: str, *, selection: Selection = WholeTarget(), method: str = "grad_l2", **params: Any) -> SalienceResult:
        """Token salience of one target span. See `explain_many`."""
        return self.explain_many(prompt, target, [selection], method=method, **params)[0]

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
                longer than the model's context, unknown method or parameter.
        """
        chosen = get_method(method)
        resolved = resolve_params(chosen, params)
        if not prompt:
            raise SalienceError("The prompt is empty; write or render a prompt first.")
        prompt_ids, target_ids = self.model.tokenize(prompt), self.model.tokenize(target)
        length = 1 + len(prompt_ids) + len(target_ids)
        if length > self.model.info.context_length:
            raise SalienceError(
                f"Prompt + target is {length} tokens, more than {self.model.info.name}'s context of "
                f"{self.model.info.context_length}; shorten the prompt or the target."
            )
        prompt_spans = self.model.token_spans(prompt_ids, source=prompt)
        target_spans = self.model.token_spans(target_ids, source=target)
        spans = [select_tokens(target, target_spans, selection) for selection in selections]
        keys = [
            (self.model.info.name, prompt, target, span, method, tuple(sorted(resolved.items()))) for span in spans
        ]
        with self._lock:
            missing = sorted({span for key, span in zip(keys, spans) if key not in self._cache})
        if missing:
            self._compute(prompt, target, prompt_ids, target_ids, prompt_spans, target_spans, missing, chosen.name, resolved)
        with self._lock:
            return [self._cache[key] for key in keys]

    def _compute(
        self,
        prompt: str,
        target: str,
        prompt_ids: list[int],
        target_ids: list[int],
        prompt_spans: Sequence[Any],
        target_spans: Sequence[Any],
        spans: list[tuple[int, int]],
        method: str,
        params: Mapping[str, Any],
    ) -> None:
        ids = np.array([self.model.vocabulary.bos_id, *prompt_ids, *target_ids], dtype=np.int32)
        first_target = 1 + len(prompt_ids)
        masks = np.zeros((len(spans), len(ids)), dtype=bool)
        for row, (first, last) in enumerate(spans):
            masks[row, first_target + first : first_target + last] = True
        output = get_method(method).compute(self.backend, ids, masks, **params)
        with self._lock:
            self.gradient_calls += 1
        offset = len(prompt)
        texts = [(s.text, s.start, s.end) for s in prompt_spans] + [(s.text, s.start + offset, s.end + offset) for s in target_spans]
        for row, span in enumerate(spans):
            # Position 0 is <bos>: it is not a token of the text, so it is dropped.
            tokens = tuple(TokenScore(text, start, end, float(score)) for (text, start, end), score in zip(texts, output.scores[row, 1:]))
            result = SalienceResult(
                model=self.model.info.name,
                prompt=prompt,
                target=target,
                method=method,
                signed=get_method(method).signed,
                params=dict(params),
                tokens=tokens,
                target_tokens=(len(prompt_ids) + span[0], len(prompt_ids) + span[1]),
                loss=float(output.losses[row]),
                details=dict(output.details[row]),
            )
            key = (self.model.info.name, prompt, target, span, method, tuple(sorted(params.items())))
            with self._lock:
                self._cache[key] = result

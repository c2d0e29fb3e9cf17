"""Computes token salience for a prompt + target, caching results in-process.

Results are cached by (model name, prompt, target, selected target tokens,
method, method parameters), contrastive ones also by their foil, occlusion
ones by their granularity. Segments, aggregation and colours are derived
from the cached token scores (`SalienceResult.segments`), so switching them
never recomputes gradients; `SalienceEngine.gradient_calls` counts the
backend calls, for tests and progress displays.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from promptkit.errors import SalienceError
from promptkit.salience.contrast import explain_contrast
from promptkit.salience.methods import Compute, GradientBackend, get_method, resolve_params
from promptkit.salience.occlusion import LikelihoodScorer, explain_occlusion
from promptkit.salience.results import SalienceResult, scored_tokens
from promptkit.salience.segmentation import PartLike
from promptkit.salience.targets import Selection, WholeTarget, select_tokens


class SalienceEngine:
    """Explains targets of one model, caching token scores.

    Args:
        model: a loaded model (`GemmaModel`): `info.name`, `info.context_length`,
            `vocabulary.bos_id`, `tokenize`, `token_spans`.
        backend: computes gradients; default the model's shared
            `GradientComputer` (compiled once per model), imported only when
            first needed so this package stays TF-free.
        scorer: scores continuations, for occlusion; default a
            `ContinuationScorer` of the model, made when first needed.
    """

    def __init__(self, model: Any, *, backend: GradientBackend | None = None, scorer: LikelihoodScorer | None = None) -> None:
        self.model = model
        self._backend = backend
        self._scorer = scorer
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

    @property
    def scorer(self) -> LikelihoodScorer:
        """The continuation scorer, built on first use."""
        if self._scorer is None:
            from promptkit.models.scoring import ContinuationScorer

            self._scorer = ContinuationScorer(self.model)
        return self._scorer

    def clear_cache(self) -> None:
        """Forgets every cached result."""
        with self._lock:
            self._cache.clear()

    def explain(self, prompt: str, target: str, *, selection: Selection = WholeTarget(), method: str = "grad_l2", **params: Any) -> SalienceResult:
        """Token salience of one target span. See `explain_many`."""
        return self.explain_many(prompt, target, [selection], method=method, **params)[0]

    def explain_contrast(
        self, prompt: str, target: str, foil: str, *, selection: Selection = WholeTarget(), method: str = "grad_l2"
    ) -> SalienceResult:
        """Why the selected span rather than `foil`: see `promptkit.salience.contrast`.

        Cached by (model, prompt, target, selection, foil, method); each new
        one costs two backend calls (span and foil sequences).

        Raises:
            SalienceError: as `explain_contrast` in `promptkit.salience.contrast`.
        """
        key = ("contrast", self.model.info.name, prompt, target, selection, foil, method)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        result = explain_contrast(self.model, self.backend, prompt, target, foil, selection=selection, method=method)
        with self._lock:
            self.gradient_calls += 2
            self._cache[key] = result
        return result

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
                longer than the model's context, unknown method or parameter.
        """
        chosen = get_method(method)
        if chosen.compute is None:
            raise SalienceError(f"{method} needs no gradients and explains one granularity at a time; use explain_occlusion.")
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
            self._compute(
                prompt, target, prompt_ids, target_ids, prompt_spans, target_spans, missing, chosen.name, chosen.compute, resolved
            )
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
        compute: Compute,
        params: Mapping[str, Any],
    ) -> None:
        ids = np.array([self.model.vocabulary.bos_id, *prompt_ids, *target_ids], dtype=np.int32)
        first_target = 1 + len(prompt_ids)
        masks = np.zeros((len(spans), len(ids)), dtype=bool)
        for row, (first, last) in enumerate(spans):
            masks[row, first_target + first : first_target + last] = True
        output = compute(self.backend, ids, masks, **params)
        with self._lock:
            self.gradient_calls += 1
        for row, span in enumerate(spans):
            # Position 0 is <bos>: it is not a token of the text, so it is dropped.
            tokens = scored_tokens(prompt_spans, target_spans, output.scores[row, 1:], prompt_length=len(prompt))
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

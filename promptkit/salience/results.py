"""What salience produces: token scores of one target span, and their segments.

A `SalienceResult` holds token scores only; `segments(...)` aggregates them
at any granularity on demand, so switching granularity, aggregation or
colours never reaches the model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from promptkit.errors import SalienceError
from promptkit.salience.aggregation import SegmentScores, aggregate
from promptkit.salience.methods import get_method
from promptkit.salience.segmentation import PartLike, assign_tokens, segment_text
from promptkit.tokenization import TokenSpan


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
        cls,
        *,
        model: str,
        prompt: str,
        target: str,
        method: str,
        tokens: Sequence[Mapping[str, Any]],
        target_start: int,
        target_end: int,
        params: Mapping[str, Any] | None = None,
        loss: float = float("nan"),
        details: Mapping[str, float] | None = None,
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
            params: the method's parameters (and `contrast`), as the computed result had them.
            loss: the span's loss; NaN when not known.
            details: the method's extra numbers.

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
            params=dict(params or {}),
            tokens=scored,
            target_tokens=(inside[0], inside[-1] + 1),
            loss=loss,
            details=dict(details or {}),
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


def scored_tokens(
    prompt_spans: Sequence[TokenSpan], target_spans: Sequence[TokenSpan], scores: Iterable[float], *, prompt_length: int
) -> tuple[TokenScore, ...]:
    """Prompt then target tokens with their scores, offsets into prompt + target.

    Args:
        prompt_spans: the prompt's token spans (`text`, `start`, `end`), offsets into the prompt.
        target_spans: the target's, offsets into the target.
        scores: one per token, prompt tokens first, shape `(num_tokens,)` (`<bos>` not included).
        prompt_length: characters in the prompt, the offset of the target's first.

    Returns:
        One `TokenScore` per token.
    """
    placed = [(s.text, s.start, s.end) for s in prompt_spans]
    placed += [(s.text, s.start + prompt_length, s.end + prompt_length) for s in target_spans]
    return tuple(TokenScore(text, start, end, float(score)) for (text, start, end), score in zip(placed, scores))


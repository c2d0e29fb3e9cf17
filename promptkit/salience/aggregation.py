"""Token scores → segment scores, and the colour domain they are shown on.

Segment score = sum of its tokens' scores by default (LIT's choice); `mean`
and `max` are selectable (for signed scores `max` keeps the score of largest
magnitude, with its sign). The colour domain is D = max(1e-3, max |score|)
over the shown segments, excluding the target's own segments unless self
salience is on; scores are then shown on [0, D] (unsigned) or [−D, D].
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from promptkit.errors import SalienceError
from promptkit.salience.segmentation import Segment

AGGREGATIONS = ("sum", "mean", "max")
MIN_DOMAIN = 1e-3


def aggregate(token_scores: np.ndarray, token_segments: Sequence[int], num_segments: int, *, how: str = "sum") -> np.ndarray:
    """Combines token scores per segment.

    Args:
        token_scores: shape `(num_tokens,)`.
        token_segments: segment index of each token, shape `(num_tokens,)`.
        num_segments: number of segments; one without tokens scores 0.
        how: `"sum"`, `"mean"` or `"max"`.

    Returns:
        shape `(num_segments,)`.
    """
    if how not in AGGREGATIONS:
        raise SalienceError(f"Unknown aggregation {how!r}; choose one of {', '.join(AGGREGATIONS)}.")
    scores = np.asarray(token_scores, dtype=np.float64)
    index = np.asarray(token_segments, dtype=np.int64)
    sums = np.bincount(index, weights=scores, minlength=num_segments)
    if how == "sum":
        return sums
    if how == "mean":
        counts = np.bincount(index, minlength=num_segments)
        return np.divide(sums, counts, out=np.zeros(num_segments), where=counts > 0)
    result = np.zeros(num_segments)
    best = np.full(num_segments, -1.0)
    for segment, score in zip(index, scores):
        if abs(score) > best[segment]:
            best[segment], result[segment] = abs(score), score
    return result


@dataclasses.dataclass(frozen=True)
class SegmentScores:
    """Segments with their aggregated scores.

    Attributes:
        segments: segments tiling the text.
        scores: shape `(num_segments,)`.
        in_target: whether each segment lies in the selected target span.
        signed: whether to show on [−D, D] rather than [0, D].
        token_counts: tokens per segment, shape `(num_segments,)`.
    """

    segments: tuple[Segment, ...]
    scores: np.ndarray
    in_target: np.ndarray
    signed: bool
    token_counts: np.ndarray

    def domain(self, *, self_salience: bool = False) -> float:
        """D = max(1e-3, max |score|) over the segments shown in colour."""
        shown = self.scores if self_salience else self.scores[~self.in_target]
        return max(MIN_DOMAIN, float(np.abs(shown).max(initial=0.0)))

    def normalized(self, *, self_salience: bool = False, domain: float | None = None) -> np.ndarray:
        """Scores divided by the domain, clipped to [−1, 1] or [0, 1].

        Args:
            self_salience: colour the target's own segments too.
            domain: a shared domain (e.g. for an A/B view); default own.

        Returns:
            shape `(num_segments,)`; NaN for target segments without self salience.
        """
        scale = domain if domain is not None else self.domain(self_salience=self_salience)
        values = np.clip(self.scores / scale, -1.0 if self.signed else 0.0, 1.0)
        if not self_salience:
            values = np.where(self.in_target, np.nan, values)
        return values

    def top(self, k: int, *, self_salience: bool = False) -> list[int]:
        """Indices of the k segments of largest |score| (target excluded by default)."""
        order = np.argsort(-np.abs(self.scores), kind="stable")
        return [int(i) for i in order if self_salience or not self.in_target[i]][:k]

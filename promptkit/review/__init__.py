"""Putting several reviewers' judgements together: agreement, win rates, blind ordering.

Pure Python plus numpy; no store, no UI.

Public API:
    wilson_interval(successes, trials, *, confidence=0.95) -> Interval
    sign_test_p_value(wins_a, wins_b) -> float | None
    krippendorff_alpha(ratings, *, level="nominal" | "ordinal") -> float | None
    blind_order(*, task_id, reviewer, item_key) -> bool   (True: show B on the left)
    unblind(verdict, *, swapped) -> UnblindedVerdict       ("left"/"right" -> "a"/"b")
    pair_summary(verdicts) -> PairSummary
    disputed_items(judgements) -> list[item key]
    rubric_order(*, task_id, reviewer, item_keys) -> list[item key]   (a reviewer's stable shuffled order)
    score_means(scores) -> {"mean", "n"}
    disputed_rubric_items(scores, *, spread=2) -> [(item key, {criterion: spread})]
    Interval(value, low, high); PairSummary(wins_a, wins_b, ties, both_bad, win_rate_a, p_value)
    PairwiseVerdict ("left", "right", "tie", "both_bad"); UnblindedVerdict ("a", "b", "tie", "both_bad")
"""

from promptkit.review.aggregation import (
    DISPUTED_SPREAD,
    PAIRWISE_VERDICTS,
    UNBLINDED_VERDICTS,
    AlphaLevel,
    Interval,
    PairSummary,
    PairwiseVerdict,
    UnblindedVerdict,
    blind_order,
    disputed_items,
    disputed_rubric_items,
    krippendorff_alpha,
    pair_summary,
    rubric_order,
    score_means,
    sign_test_p_value,
    unblind,
    wilson_interval,
)

__all__ = [
    "DISPUTED_SPREAD",
    "PAIRWISE_VERDICTS",
    "UNBLINDED_VERDICTS",
    "AlphaLevel",
    "Interval",
    "PairSummary",
    "PairwiseVerdict",
    "UnblindedVerdict",
    "blind_order",
    "disputed_items",
    "disputed_rubric_items",
    "krippendorff_alpha",
    "pair_summary",
    "rubric_order",
    "score_means",
    "sign_test_p_value",
    "unblind",
    "wilson_interval",
]

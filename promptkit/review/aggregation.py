"""Statistics that put several reviewers' judgements together.

Pure Python plus numpy (through the `krippendorff` package); nothing here touches the
store or the UI.

Blind pairwise judgements: a reviewer sees two versions of a template output side by
side, in an order that `blind_order` randomises per (task, reviewer, item), and answers
with a raw `PairwiseVerdict` ("left", "right", "tie", "both_bad"). `unblind` turns that
into an `UnblindedVerdict` ("a", "b", "tie", "both_bad"), where "a" is the first version
of the pair as the task defines it. Every aggregate below works on unblinded verdicts.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from statistics import NormalDist
from typing import Final, Literal, TypeVar, cast, get_args

import krippendorff
import numpy as np

PairwiseVerdict = Literal["left", "right", "tie", "both_bad"]
"""A raw verdict of a blind A/B judgement, in display terms."""

UnblindedVerdict = Literal["a", "b", "tie", "both_bad"]
"""A verdict in version terms: "a" is the first version of the pair, "b" the second."""

AlphaLevel = Literal["nominal", "ordinal"]

PAIRWISE_VERDICTS: Final[tuple[str, ...]] = get_args(PairwiseVerdict)
UNBLINDED_VERDICTS: Final[tuple[str, ...]] = get_args(UnblindedVerdict)

_BLIND_ORDER_DOMAIN: Final = "promptkit.review.blind_order/v1"
_RUBRIC_ORDER_DOMAIN: Final = "promptkit.review.rubric_order/v1"
DISPUTED_SPREAD: Final = 2
"""Scores of one criterion that lie this far apart (e.g. 2 and 4) make a rubric item disputed."""

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Interval:
    """A proportion with a confidence interval.

    `value` is the observed proportion; `low` and `high` bound it. All three are None
    when there were no trials, so there is nothing to estimate.
    """

    value: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class PairSummary:
    """Counts and statistics for one pair of versions over unblinded verdicts.

    `win_rate_a` is the share of A wins among decisive verdicts (wins_a + wins_b), with
    its Wilson interval; `p_value` is the two-sided sign test over the same verdicts.
    Ties and "both bad" verdicts are counted but take no part in either statistic.
    """

    wins_a: int
    wins_b: int
    ties: int
    both_bad: int
    win_rate_a: Interval
    p_value: float | None

    @property
    def total(self) -> int:
        """All verdicts counted, decisive or not."""
        return self.wins_a + self.wins_b + self.ties + self.both_bad

    @property
    def decisive(self) -> int:
        """Verdicts that preferred one version: wins_a + wins_b."""
        return self.wins_a + self.wins_b


def wilson_interval(successes: int, trials: int, *, confidence: float = 0.95) -> Interval:
    """Wilson score interval for a binomial proportion.

    Uses the exact Wilson score formula with z = Φ⁻¹(1 − (1 − confidence)/2) taken from
    `statistics.NormalDist`:
        centre = (p̂ + z²/2n) / (1 + z²/n)
        half   = z / (1 + z²/n) · √(p̂(1 − p̂)/n + z²/4n²)
    clipped to [0, 1] against rounding.

    Args:
        successes: Number of successes, 0 ≤ successes ≤ trials.
        trials: Number of trials, ≥ 0.
        confidence: Two-sided confidence level, strictly between 0 and 1.

    Returns:
        Interval(value=p̂, low, high). With trials == 0 the proportion is undefined and
        value, low and high are all None.

    Raises:
        ValueError: On negative counts, successes > trials, or confidence outside (0, 1).
    """
    if trials < 0 or successes < 0 or successes > trials:
        raise ValueError(f"need 0 <= successes <= trials, got successes={successes}, trials={trials}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")
    if trials == 0:
        return Interval(value=None, low=None, high=None)
    z = NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)
    n = float(trials)
    p = successes / n
    z2 = z * z
    denominator = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denominator
    half = (z / denominator) * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n))
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return Interval(value=p, low=low, high=high)


def sign_test_p_value(wins_a: int, wins_b: int) -> float | None:
    """Exact two-sided binomial sign test over decisive verdicts.

    Under H0 each decisive verdict is A or B with probability 1/2. With n = wins_a + wins_b
    and k = min(wins_a, wins_b), p = min(1, 2 · P(X ≤ k)) for X ~ Binomial(n, 1/2), where
    P(X ≤ k) = Σ_{i ≤ k} C(n, i) / 2ⁿ is summed in exact integer arithmetic.

    Args:
        wins_a: Decisive verdicts for version A, ≥ 0.
        wins_b: Decisive verdicts for version B, ≥ 0.

    Returns:
        The p-value in (0, 1], or None when there are no decisive verdicts.

    Raises:
        ValueError: On negative counts.
    """
    if wins_a < 0 or wins_b < 0:
        raise ValueError(f"win counts must be >= 0, got {wins_a}, {wins_b}")
    n = wins_a + wins_b
    if n == 0:
        return None
    k = min(wins_a, wins_b)
    tail = sum(math.comb(n, i) for i in range(k + 1))
    return float(min(Fraction(1), Fraction(2 * tail, 2**n)))


def krippendorff_alpha(ratings: Sequence[Sequence[Hashable | None]], *, level: AlphaLevel) -> float | None:
    """Krippendorff's alpha for a reviewers × items matrix with missing ratings.

    Computed by the `krippendorff` package. Values are first mapped to integer codes:
    nominal values may be any hashable values (strings included) and are coded in order
    of first appearance, row by row, which alpha does not depend on; ordinal values must
    be real numbers and are coded by rank, which is all the ordinal metric uses.

    Alpha is undefined, and None is returned, when
      * no item has at least two ratings (nothing is pairable; the package raises), or
      * all pairable ratings — those on items with at least two ratings — are the same
        value (expected disagreement is 0, so alpha is 0/0; the package raises or
        returns nan). Perfect agreement on a single value lands here too.
    Any nan the package still returns is mapped to None as well.

    Args:
        ratings: One row per reviewer, one column per item; None marks a missing rating.
            All rows must have the same length.
        level: "nominal" (categories) or "ordinal" (ordered numbers).

    Returns:
        Alpha (1 = perfect agreement, 0 = chance level, < 0 = systematic disagreement),
        or None when it is undefined.

    Raises:
        ValueError: On ragged rows, an unknown level, NaN ratings, or non-numeric
            ordinal ratings.
    """
    if level not in get_args(AlphaLevel):
        raise ValueError(f"level must be 'nominal' or 'ordinal', got {level!r}")
    rows = [list(row) for row in ratings]
    n_items = len(rows[0]) if rows else 0
    if any(len(row) != n_items for row in rows):
        raise ValueError("every reviewer's row must have one entry per item")
    for row in rows:
        for value in row:
            if isinstance(value, float) and math.isnan(value):
                raise ValueError("use None, not NaN, for a missing rating")
            if (
                level == "ordinal"
                and value is not None
                and (isinstance(value, bool) or not isinstance(value, int | float))
            ):
                raise ValueError(f"ordinal ratings must be real numbers, got {value!r}")

    pairable: list[Hashable] = []
    for item in range(n_items):
        column = [row[item] for row in rows if row[item] is not None]
        if len(column) >= 2:
            pairable.extend(column)
    if len(set(pairable)) < 2:
        return None

    codes = _codes(rows, level)
    matrix = np.array(
        [[np.nan if value is None else float(codes[value]) for value in row] for row in rows],
        dtype=np.float64,
    )
    result = float(
        krippendorff.alpha(
            reliability_data=matrix,
            value_domain=np.arange(len(codes), dtype=np.float64),
            level_of_measurement=level,
        )
    )
    return None if math.isnan(result) else result


def _codes(rows: list[list[Hashable | None]], level: AlphaLevel) -> dict[Hashable, int]:
    """Integer codes for the distinct ratings: first appearance (nominal) or rank (ordinal)."""
    seen: dict[Hashable, int] = {}
    for row in rows:
        for value in row:
            if value is not None and value not in seen:
                seen[value] = len(seen)
    if level == "ordinal":
        ordered = sorted(seen, key=_as_real)
        return {value: rank for rank, value in enumerate(ordered)}
    return seen


def _as_real(value: Hashable) -> float:
    """An ordinal rating as a float (the caller has checked it is a real number)."""
    if isinstance(value, int | float):
        return float(value)
    raise ValueError(f"ordinal ratings must be real numbers, got {value!r}")


def unblind(verdict: str, *, swapped: bool) -> UnblindedVerdict:
    """Turn a raw display-order verdict into a version-order one.

    Args:
        verdict: A `PairwiseVerdict`: "left", "right", "tie" or "both_bad".
        swapped: What `blind_order` returned for this judgement: True when version B
            was shown on the left.

    Returns:
        "a", "b", "tie" or "both_bad".

    Raises:
        ValueError: On a verdict that is not a `PairwiseVerdict`.
    """
    if verdict == "left":
        return "b" if swapped else "a"
    if verdict == "right":
        return "a" if swapped else "b"
    if verdict == "tie":
        return "tie"
    if verdict == "both_bad":
        return "both_bad"
    raise ValueError(f"unknown pairwise verdict {verdict!r}; expected one of {PAIRWISE_VERDICTS}")


def pair_summary(verdicts: Sequence[str]) -> PairSummary:
    """Count unblinded verdicts on one pair and summarise who wins.

    Args:
        verdicts: Unblinded verdicts ("a", "b", "tie", "both_bad"), one per judgement.

    Returns:
        PairSummary with the four counts, A's win rate over decisive verdicts with its
        95% Wilson interval, and the sign-test p-value (None without decisive verdicts).

    Raises:
        ValueError: On a verdict that is not unblinded (e.g. a raw "left").
    """
    counts = Counter(_check_unblinded(verdict) for verdict in verdicts)
    wins_a, wins_b = counts["a"], counts["b"]
    return PairSummary(
        wins_a=wins_a,
        wins_b=wins_b,
        ties=counts["tie"],
        both_bad=counts["both_bad"],
        win_rate_a=wilson_interval(wins_a, wins_a + wins_b),
        p_value=sign_test_p_value(wins_a, wins_b),
    )


def disputed_items(judgements: Mapping[K, Mapping[str, str]]) -> list[K]:
    """Items on which reviewers gave different verdicts, most split first.

    How split an item is: the share of its reviewers who gave its most common verdict;
    the smaller that share, the more split (e.g. a/b/tie = 1/3 before a/b = 1/2 before
    a/a/b = 2/3). Items with the same share keep the order they were given in. Items
    with one reviewer, or where all reviewers agree, are not disputed.

    Args:
        judgements: item key → (reviewer → unblinded verdict). Verdicts must be
            unblinded, since reviewers saw the pair in different orders.

    Returns:
        The disputed item keys.

    Raises:
        ValueError: On a verdict that is not unblinded.
    """
    scored: list[tuple[Fraction, K]] = []
    for item, by_reviewer in judgements.items():
        counts = Counter(_check_unblinded(verdict) for verdict in by_reviewer.values())
        if len(counts) < 2:
            continue
        scored.append((Fraction(max(counts.values()), sum(counts.values())), item))
    scored.sort(key=lambda entry: entry[0])  # stable: equal shares keep the given order
    return [item for _, item in scored]


def blind_order(*, task_id: int, reviewer: str, item_key: str) -> bool:
    """Whether to swap left/right when showing one item of a pairwise task to one reviewer.

    Deterministic and stable per (task, reviewer, item): the first bit of SHA-256 over a
    canonical JSON encoding of the three, under a fixed domain tag. Decisions are
    independent across items and reviewers and cannot be predicted from the item alone.

    Args:
        task_id: The review task's id.
        reviewer: The reviewer's name or id.
        item_key: The item's key within the task.

    Returns:
        True to show version B on the left (swap), False to show A on the left.
    """
    payload = json.dumps(
        [_BLIND_ORDER_DOMAIN, int(task_id), reviewer, item_key],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    digest = hashlib.sha256(payload.encode("utf-8")).digest()
    return bool(digest[0] & 0x80)


def rubric_order(*, task_id: int, reviewer: str, item_keys: Sequence[str]) -> list[str]:
    """The order in which one reviewer scores a rubric task's items: shuffled for them, stable across visits.

    Items are sorted by SHA-256 over a canonical JSON encoding of (task, reviewer, item)
    under a fixed domain tag, so the order is the same every time the reviewer comes
    back, differs between reviewers, and says nothing about which version wrote an item.

    Args:
        task_id: The review task's id.
        reviewer: The reviewer's key.
        item_keys: The items' keys within the task.

    Returns:
        The same keys, in this reviewer's order.
    """

    def rank(key: str) -> bytes:
        payload = json.dumps([_RUBRIC_ORDER_DOMAIN, int(task_id), reviewer, key], ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(payload.encode("utf-8")).digest()

    return sorted(item_keys, key=rank)


def score_means(scores: Sequence[int]) -> dict[str, float | int | None]:
    """`{"mean", "n"}` of some 1–5 scores; the mean is None when there are none."""
    return {"mean": (sum(scores) / len(scores)) if scores else None, "n": len(scores)}


def disputed_rubric_items(
    scores: Mapping[K, Mapping[str, Mapping[str, int]]], *, spread: int = DISPUTED_SPREAD
) -> list[tuple[K, dict[str, int]]]:
    """Rubric items on which reviewers' scores of some criterion lie `spread` or more apart, widest first.

    Args:
        scores: item key → (reviewer → (criterion → score)).
        spread: How far apart (highest − lowest) scores must lie to dispute an item.

    Returns:
        `(item, {criterion: highest − lowest})` for each disputed item, naming only the
        criteria that lie that far apart; ordered by the widest such spread, then by the
        order the items were given in.
    """
    found: list[tuple[K, dict[str, int]]] = []
    for item, by_reviewer in scores.items():
        criteria: dict[str, list[int]] = {}
        for given in by_reviewer.values():
            for criterion, score in given.items():
                criteria.setdefault(criterion, []).append(score)
        wide = {name: max(values) - min(values) for name, values in criteria.items() if max(values) - min(values) >= spread}
        if wide:
            found.append((item, wide))
    found.sort(key=lambda entry: -max(entry[1].values()))  # stable: equal spreads keep the given order
    return found


def _check_unblinded(verdict: str) -> UnblindedVerdict:
    """Return the verdict if it is unblinded, else raise ValueError."""
    if verdict in UNBLINDED_VERDICTS:
        return cast(UnblindedVerdict, verdict)
    raise ValueError(f"expected an unblinded verdict {UNBLINDED_VERDICTS}, got {verdict!r}")

"""Aggregation statistics, checked against values worked out by hand (arithmetic in comments)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from promptkit.review import (
    Interval,
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

# z for 95%: Φ⁻¹(0.975) = 1.959964, z² = 3.841459.
Z95 = 1.959963984540054


# --- Wilson interval -------------------------------------------------------------------


def test_wilson_8_of_10() -> None:
    # p̂ = 0.8, n = 10, z²/n = 0.3841459
    # centre = (0.8 + 0.1920729) / 1.3841459 = 0.716746
    # half   = 1.959964 / 1.3841459 · √(0.016 + 0.0096036) = 1.416010 · 0.160011 = 0.226577
    # → (0.490169, 0.943323), the published (0.4902, 0.9433)
    interval = wilson_interval(8, 10)
    assert interval.value == pytest.approx(0.8)
    assert interval.low == pytest.approx(0.4902, abs=5e-5)
    assert interval.high == pytest.approx(0.9433, abs=5e-5)


def test_wilson_0_of_5() -> None:
    # p̂ = 0: centre = half = (z²/2n) / (1 + z²/n), so low = 0 and
    # high = (z²/n) / (1 + z²/n) = 0.7682918 / 1.7682918 = 0.434482
    interval = wilson_interval(0, 5)
    assert interval.value == 0.0
    assert interval.low == 0.0
    assert interval.high == pytest.approx(0.434482, abs=1e-6)
    z2n = Z95**2 / 5
    assert interval.high == pytest.approx(z2n / (1 + z2n), rel=1e-12)


def test_wilson_10_of_10() -> None:
    # p̂ = 1: high = 1 and low = 1 / (1 + z²/n) = 1 / 1.3841459 = 0.722467
    interval = wilson_interval(10, 10)
    assert interval.value == 1.0
    assert interval.high == 1.0
    assert interval.low == pytest.approx(0.722467, abs=1e-6)
    assert interval.low == pytest.approx(1 / (1 + Z95**2 / 10), rel=1e-12)


def test_wilson_other_confidence() -> None:
    # 90%: z = Φ⁻¹(0.95) = 1.644854, z²/n = 0.2705543 for 8/10
    # centre = (0.8 + 0.1352771) / 1.2705543 = 0.736117
    # half = 1.644854 / 1.2705543 · √(0.016 + 0.0067639) = 1.294594 · 0.150877 = 0.195325
    # → (0.540792, 0.931442)
    interval = wilson_interval(8, 10, confidence=0.90)
    assert interval.low == pytest.approx(0.540792, abs=1e-5)
    assert interval.high == pytest.approx(0.931442, abs=1e-5)


def test_wilson_no_trials_is_all_none() -> None:
    assert wilson_interval(0, 0) == Interval(value=None, low=None, high=None)


@pytest.mark.parametrize(
    ("successes", "trials", "confidence"),
    [(-1, 3, 0.95), (4, 3, 0.95), (0, -1, 0.95), (1, 2, 0.0), (1, 2, 1.0)],
)
def test_wilson_rejects_bad_input(successes: int, trials: int, confidence: float) -> None:
    with pytest.raises(ValueError):
        wilson_interval(successes, trials, confidence=confidence)


def test_interval_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        wilson_interval(1, 2).low = 0.0  # type: ignore[misc]


# --- sign test -------------------------------------------------------------------------


def test_sign_test_9_vs_1() -> None:
    # n = 10, k = 1: P(X ≤ 1) = (C(10,0) + C(10,1)) / 2¹⁰ = 11/1024
    # p = 2 · 11/1024 = 22/1024 = 0.021484375
    assert sign_test_p_value(9, 1) == 22 / 1024
    assert sign_test_p_value(1, 9) == 22 / 1024


def test_sign_test_5_vs_5_is_one() -> None:
    # P(X ≤ 5) = (1+10+45+120+210+252)/1024 = 638/1024; 2 · 638/1024 > 1 → 1
    assert sign_test_p_value(5, 5) == 1.0


def test_sign_test_small_cases() -> None:
    # 3 vs 0: P(X ≤ 0) = 1/8 → p = 1/4
    assert sign_test_p_value(3, 0) == 0.25
    # 1 vs 0: P(X ≤ 0) = 1/2 → p = 1
    assert sign_test_p_value(0, 1) == 1.0
    # 8 vs 2: P(X ≤ 2) = (1+10+45)/1024 = 56/1024 → p = 112/1024 = 0.109375
    assert sign_test_p_value(8, 2) == 112 / 1024


def test_sign_test_large_n_stays_exact() -> None:
    # 600 vs 0: p = 2 / 2⁶⁰⁰ = 2⁻⁵⁹⁹, far below float epsilon but still > 0
    assert sign_test_p_value(600, 0) == math.ldexp(1.0, -599)


def test_sign_test_no_decisive_is_none() -> None:
    assert sign_test_p_value(0, 0) is None


def test_sign_test_rejects_negative() -> None:
    with pytest.raises(ValueError):
        sign_test_p_value(-1, 2)


# --- Krippendorff's alpha --------------------------------------------------------------

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C:
# 4 observers (A–D) × 12 units, "." = missing.
_: None = None
PAPER_MATRIX = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, _, _, _],  # A
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _, 3],  # B
    [_, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _],  # C
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _],  # D
]


def test_alpha_nominal_paper_example() -> None:
    # Unit 12 has one value and is not pairable, so n = 40 pairable values.
    # Coincidence matrix diagonal: o_11 = 7, o_22 = 10, o_33 = 8, o_44 = 4, o_55 = 3 → Σ o_cc = 32
    # Marginals: n_1 = 9, n_2 = 13, n_3 = 10, n_4 = 5, n_5 = 3 → Σ n_c(n_c − 1) = 72+156+90+20+6 = 344
    # α = ((n−1)·Σ o_cc − Σ n_c(n_c−1)) / (n(n−1) − Σ n_c(n_c−1)) = (39·32 − 344)/(1560 − 344)
    #   = 904/1216 = 0.743421…  (paper: α_nominal = 0.743)
    alpha = krippendorff_alpha(PAPER_MATRIX, level="nominal")
    assert alpha is not None
    assert round(alpha, 3) == 0.743
    assert alpha == pytest.approx(904 / 1216, rel=1e-12)


def test_alpha_nominal_strings_are_coded_consistently() -> None:
    names = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}
    as_strings = [[None if v is None else names[v] for v in row] for row in PAPER_MATRIX]
    assert krippendorff_alpha(as_strings, level="nominal") == pytest.approx(904 / 1216, rel=1e-12)


def test_alpha_ordinal_paper_example() -> None:
    # The same paper reports α_ordinal = 0.815 for this matrix.
    alpha = krippendorff_alpha(PAPER_MATRIX, level="ordinal")
    assert alpha is not None
    assert round(alpha, 3) == 0.815


def test_alpha_ordinal_small_case_by_hand() -> None:
    # Two reviewers, three items: (1,1), (1,1), (2,3). n = 6 pairable values.
    # Coincidences: o_11 = 2 + 2 = 4, o_23 = o_32 = 1.  Marginals n_1 = 4, n_2 = 1, n_3 = 1.
    # Ordinal δ²_ck = (Σ_{g=c..k} n_g − (n_c + n_k)/2)²:
    #   δ²_12 = (4+1 − 2.5)² = 6.25, δ²_13 = (4+1+1 − 2.5)² = 12.25, δ²_23 = (1+1 − 1)² = 1
    # Σ o_ck δ²_ck = 2·1·1 = 2;  Σ n_c n_k δ²_ck = 2·(4·6.25 + 4·12.25 + 1·1) = 150
    # α = 1 − (n − 1)·2/150 = 1 − 10/150 = 14/15 = 0.93333…
    ratings = [[1, 1, 2], [1, 1, 3]]
    assert krippendorff_alpha(ratings, level="ordinal") == pytest.approx(14 / 15, rel=1e-12)
    # Nominal on the same data, δ = 1 off the diagonal: Σ n_c n_k = 2·(4+4+1) = 18
    # α = 1 − 5·2/18 = 4/9: the 2-vs-3 disagreement costs more when adjacency does not count.
    assert krippendorff_alpha(ratings, level="nominal") == pytest.approx(4 / 9, rel=1e-12)
    # Ordinal alpha depends on ranks only: any increasing relabelling gives the same value.
    assert krippendorff_alpha([[10, 10, 25.5], [10, 10, 300]], level="ordinal") == pytest.approx(14 / 15)


def test_alpha_perfect_agreement_with_variation_is_one() -> None:
    assert krippendorff_alpha([["x", "y", None], ["x", "y", "z"]], level="nominal") == pytest.approx(1.0)


@pytest.mark.parametrize(
    "ratings",
    [
        [],  # no reviewers
        [[], []],  # no items
        [[1, None, 2], [None, 2, None]],  # no item has two ratings
        [[1, 2, None], [None, None, None]],  # one reviewer rated anything
        [[1, 1, 1], [1, 1, 1]],  # one value throughout: 0/0
        [[1, 1, 2], [1, 1, None]],  # the 2 is not pairable, pairable values all 1: 0/0
    ],
)
@pytest.mark.parametrize("level", ["nominal", "ordinal"])
def test_alpha_undefined_is_none(ratings: list[list[int | None]], level: str) -> None:
    assert krippendorff_alpha(ratings, level=level) is None  # type: ignore[arg-type]


def test_alpha_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        krippendorff_alpha([[1, 2], [1]], level="nominal")
    with pytest.raises(ValueError):
        krippendorff_alpha([["low", "high"], ["low", "low"]], level="ordinal")
    with pytest.raises(ValueError):
        krippendorff_alpha([[1.0, float("nan")], [1.0, 2.0]], level="nominal")
    with pytest.raises(ValueError):
        krippendorff_alpha([[1, 2], [1, 2]], level="interval")  # type: ignore[arg-type]


# --- pairwise verdicts -----------------------------------------------------------------


def test_pair_summary_counts() -> None:
    verdicts = ["a"] * 9 + ["b"] + ["tie"] * 3 + ["both_bad"] * 2
    summary = pair_summary(verdicts)
    assert (summary.wins_a, summary.wins_b, summary.ties, summary.both_bad) == (9, 1, 3, 2)
    assert summary.total == 15
    assert summary.decisive == 10
    # win rate over decisive verdicts only: 9/10, Wilson interval of 9 of 10
    assert summary.win_rate_a == wilson_interval(9, 10)
    assert summary.win_rate_a.value == pytest.approx(0.9)
    # sign test 9 vs 1: 22/1024
    assert summary.p_value == 22 / 1024


def test_pair_summary_without_decisive_verdicts() -> None:
    summary = pair_summary(["tie", "both_bad", "tie"])
    assert (summary.wins_a, summary.wins_b, summary.ties, summary.both_bad) == (0, 0, 2, 1)
    assert summary.win_rate_a == Interval(None, None, None)
    assert summary.p_value is None
    assert pair_summary([]).total == 0


def test_pair_summary_rejects_raw_verdicts() -> None:
    with pytest.raises(ValueError):
        pair_summary(["a", "left"])


def test_unblind() -> None:
    assert [unblind(v, swapped=False) for v in ("left", "right", "tie", "both_bad")] == ["a", "b", "tie", "both_bad"]
    assert [unblind(v, swapped=True) for v in ("left", "right", "tie", "both_bad")] == ["b", "a", "tie", "both_bad"]
    with pytest.raises(ValueError):
        unblind("a", swapped=False)


def test_disputed_items_most_split_first() -> None:
    judgements = {
        "agreed": {"r1": "a", "r2": "a", "r3": "a"},  # not disputed
        "two_thirds": {"r1": "a", "r2": "a", "r3": "b"},  # majority share 2/3
        "half_first": {"r1": "a", "r2": "b"},  # 1/2
        "three_way": {"r1": "a", "r2": "b", "r3": "tie"},  # 1/3: most split
        "half_second": {"r1": "b", "r2": "both_bad", "r3": "b", "r4": "both_bad"},  # 2/4 = 1/2, given later
        "alone": {"r1": "a"},  # one reviewer: not disputed
        "nobody": {},
    }
    assert disputed_items(judgements) == ["three_way", "half_first", "half_second", "two_thirds"]


def test_disputed_items_keys_may_be_any_hashable() -> None:
    assert disputed_items({(1, "x"): {"r1": "a", "r2": "b"}, (2, "y"): {"r1": "a"}}) == [(1, "x")]


def test_disputed_items_rejects_raw_verdicts() -> None:
    with pytest.raises(ValueError):
        disputed_items({"i": {"r1": "left", "r2": "right"}})


# --- blind order -----------------------------------------------------------------------


def test_blind_order_is_stable() -> None:
    first = [blind_order(task_id=7, reviewer="ana", item_key=f"case-{i}") for i in range(50)]
    again = [blind_order(task_id=7, reviewer="ana", item_key=f"case-{i}") for i in range(50)]
    assert first == again


def test_blind_order_is_balanced_over_items() -> None:
    swaps = sum(blind_order(task_id=3, reviewer="ana", item_key=f"case-{i}") for i in range(1000))
    assert 450 <= swaps <= 550


def test_blind_order_independent_across_reviewers_and_tasks() -> None:
    items = [f"case-{i}" for i in range(1000)]
    ana = [blind_order(task_id=3, reviewer="ana", item_key=k) for k in items]
    ben = [blind_order(task_id=3, reviewer="ben", item_key=k) for k in items]
    ana_other_task = [blind_order(task_id=4, reviewer="ana", item_key=k) for k in items]
    # Independent fair coins agree about half the time.
    assert 450 <= sum(x == y for x, y in zip(ana, ben)) <= 550
    assert 450 <= sum(x == y for x, y in zip(ana, ana_other_task)) <= 550


def test_blind_order_not_predictable_from_item_alone() -> None:
    # One item, many reviewers: both orders occur, roughly evenly.
    swaps = sum(blind_order(task_id=1, reviewer=f"reviewer-{r}", item_key="case-0") for r in range(1000))
    assert 450 <= swaps <= 550


def test_blind_order_encoding_is_unambiguous() -> None:
    # A naive "reviewer + item" concatenation would make these two identical inputs.
    pairs = [("ab", f"c{i}") for i in range(64)], [("a", f"bc{i}") for i in range(64)]
    left = [blind_order(task_id=1, reviewer=r, item_key=k) for r, k in pairs[0]]
    right = [blind_order(task_id=1, reviewer=r, item_key=k) for r, k in pairs[1]]
    assert left != right


def test_rubric_order_is_a_stable_shuffle_of_its_own_per_reviewer() -> None:
    keys = [f"case-{i}:v{v}" for i in range(10) for v in (1, 2)]
    ana = rubric_order(task_id=3, reviewer="ana", item_keys=keys)
    assert sorted(ana) == sorted(keys) and ana == rubric_order(task_id=3, reviewer="ana", item_keys=list(reversed(keys)))
    assert ana != keys  # 20! orders: the given one would be a 1-in-2·10¹⁸ coincidence
    assert ana != rubric_order(task_id=3, reviewer="bo", item_keys=keys)
    assert ana != rubric_order(task_id=4, reviewer="ana", item_keys=keys)


def test_rubric_items_are_disputed_when_a_criterions_scores_lie_two_apart_widest_first() -> None:
    scores = {
        "close": {"ana": {"tone": 3, "facts": 4}, "bo": {"tone": 4, "facts": 5}},  # 1 apart: not disputed
        "tone": {"ana": {"tone": 2, "facts": 4}, "bo": {"tone": 4, "facts": 4}},
        "alone": {"ana": {"tone": 1, "facts": 5}},
        "both": {"ana": {"tone": 1, "facts": 5}, "bo": {"tone": 3, "facts": 4}, "cy": {"tone": 2, "facts": 1}},
    }
    assert disputed_rubric_items(scores) == [("both", {"tone": 2, "facts": 4}), ("tone", {"tone": 2})]
    assert disputed_rubric_items(scores, spread=3) == [("both", {"facts": 4})]
    assert score_means([4, 3, 5]) == {"mean": 4.0, "n": 3} and score_means([]) == {"mean": None, "n": 0}

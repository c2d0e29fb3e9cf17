"""Checks, outcome likelihoods and classifier metrics, without a model."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptkit.evaluation.checks import find_line, matched_label, run_checks
from promptkit.evaluation.outcomes import (
    binary_roc_auc,
    candidate_text,
    classifier_metrics,
    macro_f1,
    normalise,
    outcome_likelihoods,
    outcome_prefix,
)
from promptkit.templates import Expectation

PROMPT = "Suggestion: Quiche\nAnalysis:"


def test_named_line_may_start_in_the_prompt() -> None:
    prompt = "Suggestion: Quiche\nRecommendation:"
    results = run_checks(Expectation(line="Recommendation:", labels=("Avoid",), candidates=("Avoid", "Likely good")),
                         prompt=prompt, completion=" Avoid.\nNext line")
    assert [(r.name, r.passed) for r in results] == [("line 'Recommendation:'", True), ("labels ['Avoid']", True)]


def test_each_expectation_part_is_a_named_check() -> None:
    expectation = Expectation(
        line="Recommendation:",
        contains=("avoid",),
        not_contains=("try it",),
        regex=r"^Avoid\.$",
        labels=("Avoid",),
        candidates=("Avoid", "You have to try it"),
    )
    completion = " it has eggs.\nRecommendation: You have to try it."
    results = {r.name: r.passed for r in run_checks(expectation, prompt=PROMPT, completion=completion)}
    assert results == {
        "line 'Recommendation:'": True,
        "contains 'avoid'": False,
        "not_contains 'try it'": False,
        "regex '^Avoid\\\\.$'": False,
        "labels ['Avoid']": False,
    }
    good = " it has eggs.\nRecommendation: Avoid."
    assert all(r.passed for r in run_checks(expectation, prompt=PROMPT, completion=good))


def test_checks_read_in_plain_words_with_what_was_found() -> None:
    expectation = Expectation(
        line="Recommendation:", contains=("avoid",), not_contains=("try it",), regex=r"^Avoid", labels=("Avoid", "Skip")
    )
    completion = " it has eggs.\nRecommendation: You have to try it."
    captions = [r.caption() for r in run_checks(expectation, prompt=PROMPT, completion=completion)]
    found = " (found: You have to try it.)"
    assert captions == [
        "✓ has a line starting Recommendation:",
        "✗ Recommendation: says “avoid”" + found,
        "✗ Recommendation: does not say “try it”" + found,
        "✗ Recommendation: matches the pattern ^Avoid" + found,
        "✗ Recommendation: is “Avoid” or “Skip”" + found,
    ]
    (whole,) = run_checks(Expectation(not_contains=("x" * 3,)), prompt="Story:\n", completion="x" * 100)
    assert whole.caption(found_length=10) == "✗ The answer does not say “xxx” (found: xxxxxxxxx…)"
    # The unwanted words are shown even when they come late in a long answer.
    (late,) = run_checks(Expectation(not_contains=("try it",)), prompt="Story:\n", completion="word " * 40 + "you have to try it.")
    assert "try it" in late.caption() and late.caption().endswith("(found: … word word word word word word word word you have to try it.)")
    (missing,) = run_checks(Expectation(line="Recommendation:"), prompt="P:", completion=" tasty.")
    assert missing.caption() == "✗ has a line starting Recommendation:"


def test_missing_line_fails_every_check_reading_it() -> None:
    expectation = Expectation(line="Recommendation:", not_contains=("Avoid",))
    results = run_checks(expectation, prompt=PROMPT, completion=" tasty.")
    assert [r.passed for r in results] == [False, False]


def test_whole_completion_is_checked_without_a_line() -> None:
    results = run_checks(Expectation(contains=("Positive",)), prompt="Sentiment:", completion=" Positive")
    assert [r.passed for r in results] == [True]


def test_find_line_and_longest_label_first() -> None:
    assert find_line("a\n  Recommendation:  Not suitable for you.\n", "Recommendation:") == "Not suitable for you."
    assert find_line("nothing here", "Recommendation:") is None
    assert matched_label("**Not suitable for you**", ["Not", "Not suitable for you"]) == "Not suitable for you"
    assert matched_label("Maybe", ["Avoid"]) is None


def test_outcome_prefix_stops_after_the_named_line() -> None:
    completion = " it has eggs.\nRecommendation: Avoid.\n"
    assert outcome_prefix(PROMPT, completion, line="Recommendation:") == PROMPT + " it has eggs.\nRecommendation:"
    assert outcome_prefix("x\nRecommendation:", " Avoid.", line="Recommendation:") == "x\nRecommendation:"
    # No such line: appended after the model's own first line.
    assert outcome_prefix(PROMPT, " tasty\nmore", line="Recommendation:") == PROMPT + " tasty\nRecommendation:"
    assert outcome_prefix("Review: x\nSentiment:", " Positive", line=None) == "Review: x\nSentiment:"
    assert candidate_text("Recommendation:", "Avoid") == " Avoid"
    assert candidate_text("<sentiment>", "Positive") == "Positive"


def test_normalise_is_a_softmax_over_candidates() -> None:
    probabilities = normalise({"a": np.log(0.2), "b": np.log(0.6)})
    assert probabilities == pytest.approx({"a": 0.25, "b": 0.75})
    extreme = normalise({"a": -1000.0, "b": -1001.0})
    assert sum(extreme.values()) == pytest.approx(1.0)


class _LengthScorer:
    """Scores a continuation by minus its length: shorter is likelier."""

    def __init__(self) -> None:
        self.calls: list[list[tuple[str, str]]] = []

    def score(self, requests):
        self.calls.append(list(requests))
        return [-float(len(continuation)) for _, continuation in requests]


def test_outcome_likelihoods_score_every_candidate_in_one_call() -> None:
    scorer = _LengthScorer()
    rows = outcome_likelihoods(scorer, ["p1 Recommendation:", "p2 <x>"], ["Avoid", "Likely good"])
    assert len(scorer.calls) == 1
    assert scorer.calls[0][0] == ("p1 Recommendation:", " Avoid")
    assert scorer.calls[0][3] == ("p2 <x>", "Likely good")
    assert rows[0]["Avoid"] > rows[0]["Likely good"]
    assert all(sum(row.values()) == pytest.approx(1.0) for row in rows)


def _pairwise_auc(positive: np.ndarray, scores: np.ndarray) -> float:
    pairs = [(p, n) for p, n in itertools.product(scores[positive], scores[~positive])]
    return sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs) / len(pairs)


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 5)), min_size=2, max_size=30))
def test_roc_auc_equals_pairwise_definition(rows: list[tuple[bool, int]]) -> None:
    positive = np.array([row[0] for row in rows])
    scores = np.array([row[1] / 5 for row in rows])
    area = binary_roc_auc(positive, scores)
    if positive.all() or not positive.any():
        assert area is None
    else:
        assert area == pytest.approx(_pairwise_auc(positive, scores))


def test_classifier_metrics_on_a_labelled_set() -> None:
    labels = ("Avoid", "Not suitable for you", "Likely good")
    acceptable = [("Avoid", "Not suitable for you"), ("Avoid",), ("Likely good",), ("Likely good",)]
    likelihoods = [
        {"Avoid": 0.1, "Not suitable for you": 0.7, "Likely good": 0.2},  # acceptable: right
        {"Avoid": 0.6, "Not suitable for you": 0.1, "Likely good": 0.3},  # right
        {"Avoid": 0.5, "Not suitable for you": 0.1, "Likely good": 0.4},  # wrong
        {"Avoid": 0.1, "Not suitable for you": 0.1, "Likely good": 0.8},  # right
    ]
    metrics = classifier_metrics(acceptable, likelihoods, labels=labels)
    assert metrics.accuracy == 0.75
    assert metrics.confusion == [[1, 0, 0], [0, 1, 0], [1, 0, 1]]
    # F1 per class: Avoid 2/3, Not suitable 1, Likely good 2/3.
    assert metrics.macro_f1 == pytest.approx((2 / 3 + 1 + 2 / 3) / 3)
    assert 0 <= metrics.roc_auc <= 1


def test_macro_f1_ignores_absent_classes() -> None:
    assert macro_f1(np.array([[2, 0, 0], [0, 2, 0], [0, 0, 0]])) == 1.0


def test_line_of_interest_is_the_first_case_line(mini_family) -> None:
    from promptkit.evaluation.checks import line_of_interest

    assert line_of_interest(mini_family.cases) == "Recommendation:"
    assert line_of_interest(()) is None

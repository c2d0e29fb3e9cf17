"""Agreement of seeded samples."""

from __future__ import annotations

import pytest

from promptkit.evaluation.stability import DEFAULT_SAMPLE_TEMPERATURE, agreement_rate, sample_outcome, sample_settings
from promptkit.generation import GenerationSettings
from promptkit.templates import Expectation

MENU = Expectation(line="Recommendation:", labels=("Avoid",), candidates=("Avoid", "Likely good"))


def test_agreement_is_the_modal_share() -> None:
    assert agreement_rate(["Avoid", "Avoid", "Likely good", "Avoid"]) == 0.75
    assert agreement_rate([True, True]) == 1.0
    assert agreement_rate([]) is None


def test_outcome_is_the_matched_label_else_the_check_verdict() -> None:
    prompt = "Suggestion: soup\nAnalysis:"
    assert sample_outcome(MENU, prompt=prompt, completion=" x\nRecommendation: Avoid it") == "Avoid"
    assert sample_outcome(MENU, prompt=prompt, completion=" x\nRecommendation: Yum") is None
    assert sample_outcome(MENU, prompt=prompt, completion=" no line") is None
    contains = Expectation(contains=("eggs",))
    assert sample_outcome(contains, prompt=prompt, completion=" eggs") is True
    assert sample_outcome(None, prompt=prompt, completion=" text ") == "text"


def test_sample_settings_differ_only_in_seed() -> None:
    base = GenerationSettings(max_new_tokens=5, stop_sequences=("\n",))
    settings = sample_settings(base, samples=3)
    assert [s.seed for s in settings] == [0, 1, 2]
    assert {s.temperature for s in settings} == {DEFAULT_SAMPLE_TEMPERATURE}
    assert all(s.max_new_tokens == 5 and s.stop_sequences == ("\n",) for s in settings)
    sampled = GenerationSettings(temperature=1.3)
    assert sample_settings(sampled, samples=1)[0].temperature == pytest.approx(1.3)

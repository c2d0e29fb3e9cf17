"""Model-independent decoding rules: sampling filters and stop handling."""

from __future__ import annotations

import numpy as np

from promptkit.generation import GeneratedToken, GenerationSettings, choose_tokens, find_stop, log_softmax, trim_at_stop


def _logprobs(values):
    return log_softmax(np.log(np.asarray([values], dtype=np.float64)))


def test_top_k_only_samples_the_k_likeliest():
    logprobs = _logprobs([0.4, 0.3, 0.2, 0.1])
    settings = GenerationSettings(temperature=1.0, top_k=2)
    rng = np.random.default_rng(0)
    drawn = {int(choose_tokens(logprobs, settings, rng)[0]) for _ in range(200)}
    assert drawn == {0, 1}


def test_top_p_keeps_the_smallest_set_reaching_p():
    logprobs = _logprobs([0.5, 0.3, 0.15, 0.05])
    settings = GenerationSettings(temperature=1.0, top_p=0.75)
    rng = np.random.default_rng(0)
    drawn = {int(choose_tokens(logprobs, settings, rng)[0]) for _ in range(300)}
    assert drawn == {0, 1}


def test_low_temperature_approaches_greedy():
    logprobs = _logprobs([0.3, 0.7])
    rng = np.random.default_rng(0)
    drawn = [int(choose_tokens(logprobs, GenerationSettings(temperature=0.05), rng)[0]) for _ in range(100)]
    assert drawn.count(1) == 100


def test_find_stop_takes_the_earliest_sequence():
    assert find_stop("a.\nb\n\nc", ["\n\n", "b"]) == 3
    assert find_stop("abc", ["x"]) is None


def test_trim_at_stop_shortens_a_straddling_token():
    tokens = [GeneratedToken(1, "Avoid", 0, 5, -0.1), GeneratedToken(2, ".\n\n", 5, 8, -0.2), GeneratedToken(3, "Next", 8, 12, -0.3)]
    text, kept = trim_at_stop(tokens, "Avoid.\n\nNext", 6)
    assert text == "Avoid."
    assert [t.text for t in kept] == ["Avoid", "."]
    assert kept[-1].end == 6

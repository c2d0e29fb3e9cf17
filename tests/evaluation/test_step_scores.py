"""Step scores against the causal LM's own full-vocabulary logits (tiny Gemma 1/2/3)."""

from __future__ import annotations

import numpy as np
import pytest

from promptkit.errors import PromptError
from promptkit.generation import GenerationSettings
from promptkit.models.gemma_model import GemmaModel
from promptkit.models.scoring import ContinuationScorer

PREFIX = "Taste-likes: Cheese\nSuggestion: Quiche Lorraine\nRecommendation:"


def _reference(model: GemmaModel, prefix_ids: list[int], continuation: list[int]) -> np.ndarray:
    """Float64 next-token log-probabilities at each continuation position, from KerasHub's causal LM."""
    sequence = np.array([[*prefix_ids, *continuation]], dtype=np.int32)
    logits = np.asarray(model.causal_lm({"token_ids": sequence, "padding_mask": np.ones_like(sequence)}), np.float64)[0]
    rows = logits[len(prefix_ids) - 1 : len(prefix_ids) - 1 + len(continuation)]
    return rows - np.logaddexp.reduce(rows, axis=-1, keepdims=True)


def test_steps_match_the_full_distribution(tiny_model: GemmaModel) -> None:
    prefix_ids = [tiny_model.vocabulary.bos_id, *tiny_model.tokenize(PREFIX)]
    continuation = tiny_model.tokenize(" You have to try it, cheese lovers.")
    steps = ContinuationScorer(tiny_model).step_scores(prefix_ids, continuation, top_k=4)
    reference = _reference(tiny_model, prefix_ids, continuation)

    assert [s.id for s in steps] == continuation
    assert "".join(s.text for s in steps) == " You have to try it, cheese lovers."
    np.testing.assert_allclose([s.logprob for s in steps], reference[np.arange(len(continuation)), continuation], atol=1e-4)
    np.testing.assert_allclose([s.entropy for s in steps], -(np.exp(reference) * reference).sum(-1), rtol=1e-4)
    expected_ranks = [1 + int((row > row[token] + 1e-6).sum()) for row, token in zip(reference, continuation)]
    assert [s.rank for s in steps] == expected_ranks
    assert max(expected_ranks) > 1  # A random model does not favour this text: the ranks are exercised.
    for step, row in zip(steps, reference):
        assert [a.id for a in step.alternatives] == list(np.argsort(-row, kind="stable")[:4])
        np.testing.assert_allclose([a.logprob for a in step.alternatives], np.sort(row)[::-1][:4], atol=1e-4)


def test_greedy_completion_ranks_first_everywhere(tiny_gemma3: GemmaModel) -> None:
    completion = tiny_gemma3.generate([PREFIX], settings=GenerationSettings(max_new_tokens=12, stop_sequences=()))[0]
    prefix_ids = [tiny_gemma3.vocabulary.bos_id, *tiny_gemma3.tokenize(PREFIX)]
    steps = ContinuationScorer(tiny_gemma3).step_scores(prefix_ids, [t.id for t in completion.tokens])
    assert [s.rank for s in steps] == [1] * len(completion.tokens)
    assert [s.alternatives[0].id for s in steps] == [t.id for t in completion.tokens]
    np.testing.assert_allclose([s.logprob for s in steps], [t.logprob for t in completion.tokens], atol=1e-4)
    assert all(0 <= s.entropy <= np.log(tiny_gemma3.vocabulary.size) + 1e-4 for s in steps)


def test_long_continuations_are_scored_in_chunks(tiny_gemma3: GemmaModel, monkeypatch) -> None:
    from promptkit.models import scoring

    prefix_ids = [tiny_gemma3.vocabulary.bos_id, *tiny_gemma3.tokenize(PREFIX)]
    continuation = tiny_gemma3.tokenize(" Avoid: it has eggs, and eggs are what you cannot eat.")
    whole = ContinuationScorer(tiny_gemma3).step_scores(prefix_ids, continuation)
    monkeypatch.setattr(scoring, "_STEP_CHUNK", 3)
    chunked = ContinuationScorer(tiny_gemma3).step_scores(prefix_ids, continuation)
    np.testing.assert_allclose([s.logprob for s in chunked], [s.logprob for s in whole], atol=1e-5)
    assert [s.alternatives[0].id for s in chunked] == [s.alternatives[0].id for s in whole]


def test_ids_outside_the_vocabulary_are_refused(tiny_gemma3: GemmaModel) -> None:
    prefix_ids = [tiny_gemma3.vocabulary.bos_id, *tiny_gemma3.tokenize(PREFIX)]
    with pytest.raises(PromptError, match="Token id 999999 is not in tiny:gemma3's vocabulary"):
        ContinuationScorer(tiny_gemma3).step_scores(prefix_ids, [5, 999_999])


@pytest.mark.parametrize(
    ("continuation", "top_k", "message"),
    [("", 5, "empty"), (" Avoid", 0, "top_k"), (" Avoid", 10**6, "top_k"), (" word" * 600, 5, "context of 512")],
)
def test_bad_step_requests_are_refused(tiny_gemma3: GemmaModel, continuation, top_k, message) -> None:
    prefix_ids = [tiny_gemma3.vocabulary.bos_id, *tiny_gemma3.tokenize(PREFIX)]
    with pytest.raises(PromptError, match=message):
        ContinuationScorer(tiny_gemma3).step_scores(prefix_ids, tiny_gemma3.tokenize(continuation), top_k=top_k)


def test_completion_steps_use_the_generated_ids_or_tokenize_another_models_text(tiny_gemma3: GemmaModel) -> None:
    from promptkit.workflows import completion_steps

    completion = tiny_gemma3.generate([PREFIX], settings=GenerationSettings(max_new_tokens=6, stop_sequences=()))[0]
    generated = completion_steps(tiny_gemma3, prompt=PREFIX, completion=completion.text, token_ids=[t.id for t in completion.tokens])
    assert [s.id for s in generated] == [t.id for t in completion.tokens]
    foreign = completion_steps(tiny_gemma3, prompt=PREFIX, completion=" Avoid: eggs.")
    assert [s.id for s in foreign] == tiny_gemma3.tokenize(" Avoid: eggs.")
    assert "".join(s.text for s in foreign) == " Avoid: eggs."

"""Continuation scoring against the causal LM's own decoding path."""

from __future__ import annotations

import numpy as np
import pytest

from promptkit.errors import PromptError
from promptkit.generation import GenerationSettings
from promptkit.models.gemma_model import GemmaModel
from promptkit.models.scoring import ContinuationScorer

PREFIX = "Taste-likes: Cheese\nSuggestion: Quiche Lorraine\nRecommendation:"


def test_scores_match_call_with_cache_logprobs(tiny_model: GemmaModel) -> None:
    # generate() records each token's log-probability from call_with_cache.
    completion = tiny_model.generate([PREFIX], settings=GenerationSettings(max_new_tokens=8, stop_sequences=()))[0]
    generated = [token.id for token in completion.tokens]
    prefix_ids = [tiny_model.vocabulary.bos_id, *tiny_model.tokenize(PREFIX)]

    scored = ContinuationScorer(tiny_model).score_ids([(prefix_ids, generated)])[0]

    np.testing.assert_allclose(scored.token_logprobs, [token.logprob for token in completion.tokens], atol=1e-4)
    assert scored.logprob == pytest.approx(sum(scored.token_logprobs))
    assert scored.token_ids == tuple(generated)


def test_batched_equals_one_by_one(tiny_model: GemmaModel) -> None:
    requests = [
        (PREFIX, " Avoid."),
        (PREFIX, " You have to try it."),
        ("Analyze a menu item in a restaurant.\n" * 4, " Likely good"),
        ("Short", " Not suitable for you"),
        ("", "The quick brown fox"),
    ]
    scorer = ContinuationScorer(tiny_model, batch_size=3)

    batched = scorer.score_texts(requests)
    alone = [scorer.score_texts([request])[0] for request in requests]

    np.testing.assert_allclose([s.logprob for s in batched], [s.logprob for s in alone], atol=1e-4)
    assert [s.continuation for s in batched] == [continuation for _, continuation in requests]


def test_continuation_is_tokenized_on_its_own(tiny_gemma3: GemmaModel) -> None:
    scored = ContinuationScorer(tiny_gemma3).score_texts([(PREFIX, " Avoid.")])[0]
    assert scored.token_ids == tuple(tiny_gemma3.tokenize(" Avoid."))
    assert all(value <= 0 for value in scored.token_logprobs)


def test_longer_continuation_is_less_likely_than_its_prefix(tiny_gemma3: GemmaModel) -> None:
    # Log-probabilities add up: extending a continuation can only lower its score
    # when the shared part is tokenized the same way.
    scorer = ContinuationScorer(tiny_gemma3)
    ids = tiny_gemma3.tokenize(" You have to try it.")
    prefix_ids = [tiny_gemma3.vocabulary.bos_id, *tiny_gemma3.tokenize(PREFIX)]
    short, long = scorer.score_ids([(prefix_ids, ids[:2]), (prefix_ids, ids)])
    assert long.logprob < short.logprob
    np.testing.assert_allclose(long.token_logprobs[:2], short.token_logprobs, atol=1e-5)


def test_empty_continuation_is_refused(tiny_gemma3: GemmaModel) -> None:
    with pytest.raises(PromptError, match="empty"):
        ContinuationScorer(tiny_gemma3).score([(PREFIX, "")])


def test_too_long_request_names_the_context(tiny_gemma3: GemmaModel) -> None:
    with pytest.raises(PromptError, match="context of 512 tokens"):
        ContinuationScorer(tiny_gemma3).score([("word " * 600, " Avoid")])


def test_occluded_logprobs_equal_scoring_each_shortened_prompt(tiny_model: GemmaModel) -> None:
    scorer = ContinuationScorer(tiny_model)
    prefix = [tiny_model.vocabulary.bos_id, *tiny_model.tokenize("Taste-likes: Cheese\nDislikes: eggs\nDish: Quiche\nVerdict:")]
    continuation = tiny_model.tokenize(" Avoid it.")
    pieces = [(1, 4), (5, 9), (len(prefix) - 3, len(prefix)), (2, len(prefix))]
    progress: list[tuple[int, int]] = []
    whole, without = scorer.occluded_logprobs(prefix, pieces, continuation, on_progress=lambda *p: progress.append(p))
    expected = scorer.score_ids(
        [(prefix, continuation), *((prefix[:start] + prefix[end:], continuation) for start, end in pieces)]
    )
    np.testing.assert_allclose([whole, *without], [item.logprob for item in expected], atol=2e-4)
    assert progress == [(done, len(pieces)) for done in range(1, len(pieces) + 1)]
    # Leaving pieces out changes the score, so the comparison is not between equal numbers.
    assert max(abs(value - whole) for value in without) > 1e-3


@pytest.mark.parametrize("piece", [(0, 2), (3, 3), (2, 99)])
def test_occluded_pieces_must_lie_in_the_prompt(tiny_gemma3: GemmaModel, piece: tuple[int, int]) -> None:
    prefix = [tiny_gemma3.vocabulary.bos_id, *tiny_gemma3.tokenize("Dish: Quiche")]
    with pytest.raises(PromptError, match="must lie in the prompt"):
        ContinuationScorer(tiny_gemma3).occluded_logprobs(prefix, [piece], tiny_gemma3.tokenize(" Avoid"))

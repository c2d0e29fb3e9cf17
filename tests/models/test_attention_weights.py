"""Attention weights read beside the forward pass are the layers' own, with the step scores of the same pass."""

from __future__ import annotations

import numpy as np
import pytest

from promptkit.models.attention_weights import AttentionReader
from promptkit.models.backend import keras_modules
from promptkit.models.scoring import ContinuationScorer

PROMPT = "Taste-likes: Cheese\nTaste-dislikes: Can't eat eggs\nSuggestion: Quiche\nAnalysis:"
TARGET = " it has eggs.\nRecommendation: Avoid."


def _sequence(model):
    prompt, target = model.tokenize(PROMPT), model.tokenize(TARGET)
    return np.array([model.vocabulary.bos_id, *prompt, *target], np.int32), len(target)


def test_the_weights_rebuild_each_layers_attention_output(tiny_model):
    """Σ_s weight(t, s)·value(s) through the layer's output projection is what the layer itself returns."""
    keras, _, tf = keras_modules()
    ids, rows = _sequence(tiny_model)
    weights = tiny_model.companions.attention.read(ids, rows).weights
    backbone = tiny_model.backbone
    length = len(ids) - 1
    x = backbone.token_embedding(ids[None, :-1]) * keras.ops.cast(keras.ops.sqrt(backbone.hidden_dim), "float32")
    causal = tf.linalg.band_part(tf.ones((1, length, length), tf.int32), -1, 0)
    assert weights.shape == (len(backbone.transformer_layers), backbone.num_query_heads, rows, length)
    for index, layer in enumerate(backbone.transformer_layers):
        attention = layer.attention
        normalized = layer.pre_attention_norm(x)
        expected = attention(normalized, attention_mask=causal)[0, length - rows :].numpy()
        groups = attention.num_query_heads // attention.num_key_value_heads
        values = np.repeat(attention.value_dense(normalized)[0].numpy(), groups, axis=1)  # (length, heads, head_dim)
        rebuilt = attention.output_dense(np.einsum("nts,snh->tnh", weights[index], values)[None])[0].numpy()
        np.testing.assert_allclose(rebuilt, expected, atol=2e-5 * np.abs(expected).max())
        x = layer(x, padding_mask=tf.ones((1, length), tf.int32))


def test_rows_are_distributions_over_the_positions_before_the_token(tiny_model):
    ids, rows = _sequence(tiny_model)
    weights = tiny_model.companions.attention.read(ids, rows).weights
    length = weights.shape[-1]
    assert (weights >= 0).all()
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-5)
    for row in range(rows):
        query = length - rows + row  # the position predicting target token `row`
        assert (weights[:, :, row, query + 1 :] == 0).all()


def test_sliding_window_layers_give_zero_outside_their_window(tiny_model):
    """Tiny Gemma 2 and 3 have windows of 8 tokens (Gemma 2 on layer 0, Gemma 3 on both); Gemma 1 has none."""
    ids, rows = _sequence(tiny_model)
    weights = tiny_model.companions.attention.read(ids, rows).weights
    length = weights.shape[-1]
    for index, layer in enumerate(tiny_model.backbone.transformer_layers):
        window = layer.attention.sliding_window_size
        for row in range(rows):
            query = length - rows + row
            outside = weights[index, :, row, : max(0, query - window + 1)]
            if layer.attention.use_sliding_window_attention:
                assert outside.size and (outside == 0).all()
                np.testing.assert_allclose(weights[index, :, row, query - window + 1 : query + 1].sum(-1), 1.0, atol=1e-5)
            else:
                assert (outside > 0).all()


def test_step_scores_match_the_continuation_scorer(tiny_model):
    ids, rows = _sequence(tiny_model)
    reading = AttentionReader(tiny_model, top_k=3).read(ids, rows)
    steps = ContinuationScorer(tiny_model).step_scores(ids[:-rows].tolist(), ids[-rows:].tolist(), top_k=3)
    np.testing.assert_allclose(reading.logprobs, [step.logprob for step in steps], atol=1e-5)
    np.testing.assert_allclose(reading.entropy, [step.entropy for step in steps], atol=1e-4)
    assert reading.rank.tolist() == [step.rank for step in steps]
    assert reading.top_ids.tolist() == [[a.id for a in step.alternatives] for step in steps]


def test_a_reading_needs_a_target_after_bos(tiny_gemma3):
    with pytest.raises(ValueError, match="num_targets"):
        tiny_gemma3.companions.attention.read(np.array([2, 5, 6]), 3)

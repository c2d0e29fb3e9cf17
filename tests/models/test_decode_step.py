"""The matmul-shaped decode step computes what KerasHub's `call_with_cache` does."""

from __future__ import annotations

import numpy as np

from promptkit.models.backend import keras_modules
from promptkit.models.decode_step import DecodeStep
from promptkit.models.loader import load_model
from promptkit.models.tiny import tiny_causal_lm


def _flat(cache) -> list[np.ndarray]:
    _, _, tf = keras_modules()
    return [np.asarray(part) for part in tf.nest.flatten(cache)]


def test_step_equals_call_with_cache(tiny_model):
    _, _, tf = keras_modules()
    causal_lm, graphs = tiny_model.causal_lm, tiny_model.graphs
    assert DecodeStep.supports(causal_lm.backbone)
    step = DecodeStep(causal_lm.backbone, is_gemma3=graphs._is_gemma3)
    prompts = tf.constant([[2, 40, 41, 42, 43, 44], [2, 50, 51, 52, 53, 54]], tf.int32)
    cache = graphs.prefill(prompts[:, :5], 9)
    for index in (5, 6):
        column = prompts[:, 5:6] if index == 5 else tf.constant([[7], [9]], tf.int32)
        ours, our_cache = step(column, cache, tf.constant(index))
        _, theirs, their_cache = causal_lm.call_with_cache(token_ids=column, cache=cache, cache_update_index=index)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-5)
        for mine, keras_part in zip(_flat(our_cache), _flat(their_cache), strict=True):
            np.testing.assert_allclose(mine, keras_part, rtol=1e-5, atol=1e-5)
        cache = their_cache


def test_projections_that_are_not_plain_kernels_are_left_to_keras():
    backbone = tiny_causal_lm("gemma3").backbone  # Its own copy: the shared fixtures stay plain.
    backbone.transformer_layers[0].gating_ffw.enable_lora(2)
    assert not DecodeStep.supports(backbone)


def test_a_model_the_step_does_not_support_decodes_through_keras_alike():
    from promptkit.generation import GenerationSettings
    from promptkit.models.gemma_model import GemmaModel

    plain = load_model("tiny:gemma3")
    causal_lm = tiny_causal_lm("gemma3")  # Same seed: the same weights as `plain`.
    # LoRA's second matrix starts at zero, so the model's outputs are unchanged.
    causal_lm.backbone.transformer_layers[0].gating_ffw.enable_lora(2)
    with_lora = GemmaModel(causal_lm, info=plain.info)
    assert with_lora.graphs._decode_step is None and plain.graphs._decode_step is not None
    settings = GenerationSettings(max_new_tokens=6, stop_sequences=())
    ours, keras = plain.generate(["Hi there"], settings=settings)[0], with_lora.generate(["Hi there"], settings=settings)[0]
    assert [t.id for t in ours.tokens] == [t.id for t in keras.tokens]
    np.testing.assert_allclose([t.logprob for t in ours.tokens], [t.logprob for t in keras.tokens], atol=1e-4)

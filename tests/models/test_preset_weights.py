"""Loading a preset without random initialisation gives exactly the saved model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from promptkit.models.backend import keras_modules
from promptkit.models.preset_weights import from_preset_without_random_init
from promptkit.models.tiny import tiny_causal_lm


@pytest.mark.parametrize("family", ["gemma1", "gemma2", "gemma3"])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_weights_and_outputs_equal_plain_from_preset(tmp_path: Path, family: str, dtype: str):
    _, keras_hub, tf = keras_modules()
    task = keras_hub.models.Gemma3CausalLM if family == "gemma3" else keras_hub.models.GemmaCausalLM
    tiny_causal_lm(family, seed=7).save_to_preset(str(tmp_path))

    fast = from_preset_without_random_init(task, str(tmp_path), dtype=dtype)
    plain = task.from_preset(str(tmp_path), dtype=dtype)

    assert [v.path for v in fast.backbone.weights] == [v.path for v in plain.backbone.weights]
    for ours, theirs in zip(fast.backbone.weights, plain.backbone.weights, strict=True):
        assert ours.dtype == theirs.dtype == dtype
        np.testing.assert_array_equal(np.asarray(ours.numpy(), np.float32), np.asarray(theirs.numpy(), np.float32))
    ids = tf.constant([[2, 17, 33, 5, 90]])
    inputs = {"token_ids": ids, "padding_mask": tf.ones_like(ids)}
    np.testing.assert_array_equal(fast(inputs).numpy(), plain(inputs).numpy())
    assert fast.preprocessor.tokenizer.vocabulary_size() == plain.preprocessor.tokenizer.vocabulary_size()
    assert fast.preprocessor.sequence_length == plain.preprocessor.sequence_length


def test_a_broken_weights_file_raises_and_leaves_no_half_built_state(tmp_path: Path):
    _, keras_hub, _ = keras_modules()
    tiny_causal_lm("gemma3").save_to_preset(str(tmp_path))
    weights = tmp_path / "model.weights.h5"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(OSError, match="truncated"):
        from_preset_without_random_init(keras_hub.models.Gemma3CausalLM, str(tmp_path), dtype="float32")
    # Keras state is per thread and must be clean again: a later load works.
    tiny_causal_lm("gemma3").save_to_preset(str(tmp_path / "again"))
    again = from_preset_without_random_init(keras_hub.models.Gemma3CausalLM, str(tmp_path / "again"), dtype="float32")
    assert all(np.isfinite(v.numpy()).all() for v in again.backbone.weights)

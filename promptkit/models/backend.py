"""Imports Keras on the TensorFlow backend, once, with the GPU set up.

This is the only door through which promptkit reaches keras, keras_hub and
tensorflow: `KERAS_BACKEND` must be set before keras is first imported, and
TensorFlow's GPU memory growth must be set before any tensor is placed.
"""

from __future__ import annotations

import functools
import os
import types


@functools.cache
def keras_modules() -> tuple[types.ModuleType, types.ModuleType, types.ModuleType]:
    """Returns `(keras, keras_hub, tensorflow)`, configured for promptkit.

    Returns:
        The three modules. On a machine with GPUs, TensorFlow's memory growth
        is on for each of them, so several processes can share a GPU and
        memory is taken as the model needs it rather than all at once.
    """
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)
    import keras
    import keras_hub

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            "promptkit needs Keras on the TensorFlow backend, but keras was "
            f"imported with backend {keras.backend.backend()!r} before "
            "promptkit set KERAS_BACKEND; unset KERAS_BACKEND or set it to "
            "'tensorflow'."
        )
    return keras, keras_hub, tf


def device_name() -> str:
    """Names the device models run on: `"GPU"` (with count) or `"CPU"`."""
    _, _, tf = keras_modules()
    gpus = tf.config.list_logical_devices("GPU")
    if not gpus:
        return "CPU"
    return "GPU" if len(gpus) == 1 else f"{len(gpus)} GPUs"


def default_dtype() -> str:
    """The dtype that serves best here: bfloat16 on GPU, float32 on CPU."""
    return "float32" if device_name() == "CPU" else "bfloat16"

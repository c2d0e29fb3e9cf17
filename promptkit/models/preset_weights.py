"""Loads a KerasHub preset without first filling its weights with random numbers.

`from_preset` builds the model, which runs every variable's random
initializer, and then overwrites each variable with its saved value. For
Gemma 3 270M that is a gigabyte of random numbers drawn for nothing: on a
2-core CPU about a third of a warm start. Inside a `keras.StatelessScope`
variables are created without values and assignments are recorded instead
of applied, so `from_preset` there builds the model for free and its
`load_weights` leaves each saved value in the scope; on leaving the scope
Keras creates every variable once, from that value. The tokenizer, whose
vocabulary Keras spends 1–2 s tracking, is built in a thread meanwhile.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from typing import Any

from promptkit.models.backend import keras_modules


def _saved(value: Any) -> Callable[..., Any]:
    def initializer(shape: Any, dtype: Any = None) -> Any:
        return value

    return initializer


def from_preset_without_random_init(task: Any, preset: str, *, dtype: str) -> Any:
    """A KerasHub task loaded from a preset, its variables created straight from the saved weights.

    Args:
        task: a KerasHub task class, e.g. `keras_hub.models.Gemma3CausalLM`.
        preset: a preset name or directory, as `from_preset` takes it.
        dtype: the variables' dtype, e.g. `"float32"`.

    Returns:
        The task with the preset's backbone and preprocessor; its weights
        equal those `task.from_preset(preset, dtype=dtype)` loads.
    """
    keras, _, _ = keras_modules()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        # Building the tokenizer (1–2 s of Python) overlaps reading the weights.
        preprocessor = pool.submit(task.preprocessor_cls.from_preset, preset)
        backbone = _backbone(keras, task, preset, dtype)
        return task(backbone=backbone, preprocessor=preprocessor.result())


def _backbone(keras: Any, task: Any, preset: str, dtype: str) -> Any:
    """The preset's backbone, each variable created once from its saved value."""
    # Leaving the scope initialises every variable created in it (Keras's
    # `initialize_all_variables`), each from its `_initializer`. Only the
    # backbone is built inside: the task's `compile()` creates optimizer
    # variables, which a stateless scope refuses.
    with keras.StatelessScope() as scope:
        backbone = task.backbone_cls.from_preset(preset, dtype=dtype)
        for variable in backbone.variables:
            saved = scope.get_current_value(variable)
            if saved is not None:
                # Keras offers no public way to give a deferred variable its
                # first value; Keras is pinned, and a test compares the result
                # with plain `from_preset`.
                variable._initializer = _saved(saved)
    return backbone

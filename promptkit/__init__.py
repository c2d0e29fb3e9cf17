"""promptkit: prompt-template iteration on Gemma, as a plain Python library.

Importing promptkit imports neither Streamlit nor TensorFlow: the model
layer (`promptkit.models`) loads Keras on first use. Subpackages:
`templates` (render and version templates), `store` (SQLite/PostgreSQL),
`salience` (why the model wrote what it wrote, also rather than an
alternative, or without each part of the prompt), `steps` (what the model weighed at each token), `evaluation`
(versions × cases), `diff`.

Typical use::

    from promptkit import GenerationSettings, load_model
    model = load_model()                      # the embedded Gemma 3 270M
    [completion] = model.generate([prompt], settings=GenerationSettings())
"""

from typing import Any

from promptkit.errors import (
    ModelLoadError,
    PromptError,
    PromptkitError,
    SalienceError,
    StoreError,
    TemplateError,
)
from promptkit.generation import Completion, GeneratedToken, GenerationSettings, StopReason
from promptkit.models.api import LanguageModel, ModelInfo

__all__ = [
    "EMBEDDED_MODEL",
    "Completion",
    "GeneratedToken",
    "GenerationSettings",
    "LanguageModel",
    "ModelInfo",
    "ModelLoadError",
    "PromptError",
    "PromptkitError",
    "SalienceError",
    "StopReason",
    "StoreError",
    "TemplateError",
    "load_model",
]


def __getattr__(name: str) -> Any:
    # The loader module is light, but keeping it out of `import promptkit`
    # keeps the CLI's non-model commands fast.
    if name in ("load_model", "EMBEDDED_MODEL"):
        from promptkit.models import loader

        return getattr(loader, name)
    raise AttributeError(f"module 'promptkit' has no attribute {name!r}")

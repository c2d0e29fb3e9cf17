"""Model layer: the only part of promptkit that imports keras and TensorFlow.

Keras is imported on first use (`backend.keras_modules`), not when this
package is imported; the loader and the Gemma wrapper are imported when
first named, so importing the model contract (`promptkit.models.api`)
stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptkit.models.gemma_model import GemmaModel
    from promptkit.models.loader import EMBEDDED_MODEL, gemma_preset_names, kaggle_credentials_present, load_model

__all__ = ["EMBEDDED_MODEL", "GemmaModel", "gemma_preset_names", "kaggle_credentials_present", "load_model"]


def __getattr__(name: str) -> Any:
    if name == "GemmaModel":
        from promptkit.models.gemma_model import GemmaModel

        return GemmaModel
    if name in __all__:
        from promptkit.models import loader

        return getattr(loader, name)
    raise AttributeError(f"module 'promptkit.models' has no attribute {name!r}")

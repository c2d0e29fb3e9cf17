"""Model layer: the only part of promptkit that imports keras and TensorFlow.

Keras is imported on first use (`backend.keras_modules`), not when this
package is imported.
"""

from promptkit.models.gemma_model import GemmaModel
from promptkit.models.loader import EMBEDDED_MODEL, gemma_preset_names, kaggle_credentials_present, load_model

__all__ = ["EMBEDDED_MODEL", "GemmaModel", "gemma_preset_names", "kaggle_credentials_present", "load_model"]

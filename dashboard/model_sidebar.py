"""The model: loaded once per process, shared by all sessions, picked in the sidebar.

Environment:
    PROMPTKIT_MODEL, PROMPTKIT_LOAD_LOG: see promptkit.model_registry.
"""

from __future__ import annotations

import streamlit as st

from dashboard.messages import show_error
from dashboard.snippets import model_summary_markdown
from dashboard.state import KEY_DTYPE, KEY_MODEL_NAME
from promptkit.errors import PromptkitError
from promptkit.model_registry import ModelRegistry, default_model_name
from promptkit.models.api import LanguageModel
from promptkit.salience import SalienceEngine


@st.cache_resource(show_spinner=False)
def _registry() -> ModelRegistry:
    return ModelRegistry()


def _load_once(name: str, dtype: str | None) -> LanguageModel:
    """Loads `name` once per process, with a visible status while loading."""
    registry = _registry()
    model = registry.loaded(name, dtype)
    if model is not None:
        return model
    with st.status(f"Preparing {name}…", expanded=True) as status:
        if registry.loading():
            status.write("Another session is loading a model; waiting for it…")
        try:
            model = registry.get(name, dtype, progress=status.write)
        except Exception:
            status.update(label=f"Could not load {name}", state="error", expanded=False)
            raise
        status.update(
            label=f"{name} loaded in {model.info.load_seconds:.1f} s", state="complete", expanded=False
        )
    return model


def get_model() -> LanguageModel | None:
    """The model picked in the sidebar, falling back to the embedded one.

    Returns:
        The loaded model, or None when even the fallback failed (an error is
        shown then).
    """
    name, dtype = _picked_model()
    fallback = default_model_name()
    try:
        return _load_once(name, dtype)
    except PromptkitError as error:
        st.warning(f"{error}\n\nUsing {fallback} instead.", icon=":material/undo:")
    except Exception as error:  # noqa: BLE001
        show_error(error)
    if name == fallback and dtype is None:
        return None  # the fallback itself just failed
    try:
        return _load_once(fallback, None)
    except Exception as error:  # noqa: BLE001
        show_error(error)
        return None


def adapted_model(model: LanguageModel, adapter: str) -> LanguageModel:
    """The loaded `model` with a trained adapter merged in (`BASE+adapter:NAME`), loaded once per process."""
    from promptkit.models.loader import adapter_model_name

    return _load_once(adapter_model_name(model.info.name, adapter), _picked_model()[1])


def model_sidebar() -> LanguageModel | None:
    """Draws the sidebar model picker and returns the loaded model (or None)."""
    # Importing TensorFlow and loading the model take seconds before the page
    # draws anything: say so where the user is looking.
    starting = st.empty()
    if not _model_ready():
        starting.info("Starting up: loading the model (15–30 s the first time; the sidebar shows how far it is)…",
                      icon=":material/hourglass_top:")
    try:
        return _model_sidebar()
    finally:
        starting.empty()


def _picked_model() -> tuple[str, str | None]:
    """The model name and dtype picked in the sidebar (None: the device's default)."""
    dtype = st.session_state.get(KEY_DTYPE)
    return st.session_state.get(KEY_MODEL_NAME) or default_model_name(), None if dtype in (None, "automatic") else dtype


def _model_ready() -> bool:
    try:
        return _registry().loaded(*_picked_model()) is not None
    except PromptkitError:
        return False  # get_model reports the failure


def _model_sidebar() -> LanguageModel | None:
    from promptkit.models.loader import gemma_preset_names, kaggle_credentials_present, saved_adapter_models

    default = default_model_name()
    try:
        presets = [name for name in gemma_preset_names() if name != default]
    except Exception:  # noqa: BLE001 - the list is a convenience only.
        presets = []
    adapted = [name for name in saved_adapter_models() if name != default]
    with st.sidebar:
        st.subheader("Model")
        st.selectbox(
            "Model",
            [default, *presets, *adapted],
            key=KEY_MODEL_NAME,
            help="The embedded Gemma 3 270M needs no download. The other names are "
            "KerasHub Gemma presets downloaded from Kaggle, and models with a LoRA adapter "
            "trained by `python -m promptkit tune` (BASE+adapter:NAME).",
        )
        st.selectbox(
            "Precision",
            ["automatic", "float32", "bfloat16"],
            key=KEY_DTYPE,
            help="Automatic: float32 on CPU, bfloat16 on GPU.",
        )
        if not kaggle_credentials_present():
            st.caption(
                "No Kaggle credentials found, so only the embedded model can load. To use the "
                "other presets, save your Kaggle API token to ~/.kaggle/kaggle.json."
            )
        model = get_model()
        if model is not None:
            st.markdown(model_summary_markdown(model.info))
    return model


def salience_engine(model: LanguageModel) -> SalienceEngine:
    """The SalienceEngine of `model`, shared by all sessions so its cache is too."""
    return _registry().salience_engine(model)

"""Shared Streamlit glue for the dashboard pages: cached resources, session state, errors, widgets.

Pages stay thin: they read widgets, call promptkit, and render. Nothing in
this module decides anything about prompts, models or scores (that is
promptkit's job, HTML snippets included: `promptkit.presentation`); it only
adapts the library to Streamlit.

Environment:
    PROMPTKIT_MODEL, PROMPTKIT_LOAD_LOG: see promptkit.model_registry.
    PROMPTKIT_DB / PROMPTKIT_DB_URL: the store (see promptkit.store).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import streamlit as st

from promptkit.errors import PromptkitError, error_message
from promptkit.model_registry import ModelRegistry, default_model_name
from promptkit.presentation import model_summary_markdown

# --- Session-state keys shared between pages.
KEY_MODEL_NAME = "pk_model_name"  # name picked in the sidebar
KEY_DTYPE = "pk_dtype"
KEY_FAMILY = "pk_family"  # family picked on any page
KEY_VERSION = "pk_version"  # version number picked in the Playground
KEY_TEMPLATE_TEXT = "pk_template_text"  # the user's (maybe unsaved) template text
KEY_TEMPLATE_SOURCE = "pk_template_source"  # (family, version) the text was loaded from
KEY_TEMPLATE_DRAFTS = "pk_template_drafts"  # {(family, version): unsaved text typed over it}
KEY_TEMPLATE_WIDGET = "pk_template_widget"  # the Playground's template text area
KEY_PENDING_VERSION = "pk_pending_version"  # version the Playground's picker shows on its next run
KEY_CASE = "pk_case"  # test case picked in the Playground
KEY_VALUES = "pk_values"  # dict of variable values typed in the Playground
KEY_LAST_RUN = "pk_last_run"  # id of the Playground's last run
KEY_COMPARE_RESULT = "pk_compare_result"  # last Compare result
KEY_SALIENCE_RUN = "pk_salience_run"  # run id the Salience page opens with
KEY_SALIENCE_RUN_B = "pk_salience_run_b"  # second run for the A/B view
KEY_NOTICE = "pk_notice"  # one-shot message shown after a rerun

DEFAULT_FAMILY = "menu-analysis"
DEFAULT_VERSION_LABEL = "fewshot-mistake"
DEFAULT_CASE = "quiche-cant-eat-eggs"


def ensure_frame() -> None:
    """Keeps every session in st.navigation mode (call first in app.py and in each page).

    A fresh Streamlit process runs its very first script run in the old
    `pages/`-folder mode because this repository has a `pages/` folder: a
    deep link (e.g. /compare) would run the page without app.py's frame, and
    the switch to st.navigation mode on the next run would reset the first
    session's widgets. Leaving that mode at once and rerunning avoids both;
    the rerun keeps the requested page (its URL path is the same in both
    modes). `streamlit.testing.v1.AppTest` resets the mode on every run (with
    a mock runtime), so there pages simply run as they are.
    """
    from streamlit.runtime import Runtime
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory and type(Runtime._instance) is Runtime:
        PagesManager.uses_pages_directory = False
        st.rerun()


def keep_shared_state() -> None:
    """Keeps widget values shared between pages (e.g. the family) across page switches.

    Streamlit forgets a widget's value when a run does not draw that widget;
    re-assigning it once per run (in app.py) keeps it.
    """
    for key in (KEY_FAMILY,):
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


# --- Errors: a short message, never a traceback.
def show_error(error: BaseException) -> None:
    """Shows `error` as a short st.error (PromptkitError text as is)."""
    st.error(error_message(error), icon=":material/error:")


@contextlib.contextmanager
def guard() -> Iterator[None]:
    """Runs a block; any exception becomes a short st.error instead of a traceback.

    Streamlit's own rerun/stop signals are BaseExceptions and pass through.
    """
    try:
        yield
    except Exception as error:  # noqa: BLE001 - the point is to catch everything.
        show_error(error)


# --- The model: loaded once per process, shared by all sessions.
@st.cache_resource(show_spinner=False)
def _registry() -> ModelRegistry:
    return ModelRegistry()


def _load_once(name: str, dtype: str | None) -> Any:
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


def get_model() -> Any:
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


def model_sidebar() -> Any:
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


def _model_sidebar() -> Any:
    from promptkit.models.loader import gemma_preset_names, kaggle_credentials_present

    default = default_model_name()
    try:
        presets = [name for name in gemma_preset_names() if name != default]
    except Exception:  # noqa: BLE001 - the list is a convenience only.
        presets = []
    with st.sidebar:
        st.subheader("Model")
        st.selectbox(
            "Model",
            [default, *presets],
            key=KEY_MODEL_NAME,
            help="The embedded Gemma 3 270M needs no download. The other names are "
            "KerasHub Gemma presets downloaded from Kaggle.",
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


# --- The store: one per process.
def get_store() -> Any:
    """The promptkit store (PROMPTKIT_DB_URL / PROMPTKIT_DB), opened once per URL per process."""
    from promptkit.store import resolve_url

    return _open_store(resolve_url())


@st.cache_resource(show_spinner="Opening the store…")
def _open_store(url: str) -> Any:
    from promptkit.store import Store
    from promptkit.templates import default_templates_dir

    store = Store.open(url=url)
    store.import_library(templates_dir=default_templates_dir())
    return store


# --- Unsaved template edits, kept per version for the session.
def template_drafts() -> dict[tuple[str, int], str]:
    """The session's unsaved template texts by (family, version number)."""
    return st.session_state.setdefault(KEY_TEMPLATE_DRAFTS, {})


def keep_template_draft(family: str, number: int, saved_text: str) -> None:
    """Keeps the template text area's value as the draft of (family, number); `on_change` callback."""
    text = st.session_state[KEY_TEMPLATE_WIDGET]
    st.session_state[KEY_TEMPLATE_TEXT] = text
    if text == saved_text:
        template_drafts().pop((family, number), None)
    else:
        template_drafts()[(family, number)] = text


def discard_template_draft(family: str, number: int, saved_text: str) -> None:
    """Forgets the draft of (family, number) and shows `saved_text` again; `on_click` callback."""
    template_drafts().pop((family, number), None)
    st.session_state[KEY_TEMPLATE_TEXT] = saved_text
    st.session_state[KEY_TEMPLATE_WIDGET] = saved_text


def template_saved(family: str, *, parent: int, saved: int) -> None:
    """After the text typed over `parent` was saved as version `saved`: its draft is gone, `saved` is shown next."""
    template_drafts().pop((family, parent), None)
    st.session_state[KEY_PENDING_VERSION] = saved
    st.session_state[KEY_TEMPLATE_SOURCE] = (family, saved)


# --- Small Streamlit helpers used by several pages.
def notice() -> None:
    """Shows (once) a message left by a previous run of the script."""
    message = st.session_state.pop(KEY_NOTICE, None)
    if message:
        st.success(message)


# --- Salience and step scores: one engine and one scorer per loaded model.
def salience_engine(model: Any) -> Any:
    """The SalienceEngine of `model`, shared by all sessions so its cache is too."""
    return _registry().salience_engine(model)


def scorer(model: Any) -> Any:
    """The ContinuationScorer of `model`, shared by all sessions so its graphs are traced once."""
    return _registry().scorer(model)


def store_and_families() -> tuple[Any, dict[str, Any]]:
    """The store and its template families by name; stops the page with a message if unreadable."""
    try:
        store = get_store()
        return store, {family.name: family for family in store.list_families()}
    except Exception as error:  # noqa: BLE001 - any failure becomes a message, not a traceback.
        show_error(error)
        st.stop()
        raise  # st.stop() raises; this keeps type checkers and readers sure.

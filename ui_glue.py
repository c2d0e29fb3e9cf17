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
from promptkit.presentation import model_summary_markdown, review_markdown

# --- Session-state keys shared between pages.
KEY_MODEL_NAME = "pk_model_name"  # name picked in the sidebar
KEY_DTYPE = "pk_dtype"
KEY_FAMILY = "pk_family"  # family picked on any page
KEY_VERSION = "pk_version"  # version number picked in the Playground
KEY_TEMPLATE_TEXT = "pk_template_text"  # the user's (maybe unsaved) template text
KEY_TEMPLATE_SOURCE = "pk_template_source"  # (family, version) the text was loaded from
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


# --- Small Streamlit helpers used by several pages.
def notice() -> None:
    """Shows (once) a message left by a previous run of the script."""
    message = st.session_state.pop(KEY_NOTICE, None)
    if message:
        st.success(message)


# --- Generation settings widgets.
def settings_widgets(defaults: Any = None, *, key: str) -> Any:
    """Generation-settings inputs (call inside a form); returns GenerationSettings.

    Args:
        defaults: the version's GenerationDefaults, if any.
        key: prefix for widget keys, unique per page.

    Raises:
        PromptError: if the settings are invalid.
    """
    from promptkit.generation import BLANK_LINE, GenerationSettings, chosen_stop_sequences

    max_tokens = getattr(defaults, "max_new_tokens", 64) or 64
    stops = tuple(getattr(defaults, "stop_sequences", ()) or (BLANK_LINE,))
    with st.expander("Generation settings", expanded=False):
        left, middle, right = st.columns(3)
        # No bounds on the inputs: a browser refuses an out-of-range value
        # without a word, and the form would not submit. GenerationSettings
        # names what is wrong instead.
        max_new_tokens = left.number_input("Max new tokens", value=int(max_tokens), step=1, key=f"{key}_max_tokens")
        temperature = middle.number_input(
            "Temperature", value=0.0, step=0.1, key=f"{key}_temperature",
            help="0 always takes the likeliest word; higher values sample more freely.",
        )
        seed = right.number_input("Seed (for sampling)", value=0, step=1, key=f"{key}_seed")
        stop_blank = st.checkbox(
            "Stop at a blank line (recommended for few-shot prompts)",
            value=BLANK_LINE in stops,
            key=f"{key}_stop_blank",
        )
        extra = st.text_input(
            "Other stop text (optional)",
            value="",
            key=f"{key}_stop_extra",
            help="Generation also stops when this text appears.",
        )
    return GenerationSettings(
        max_new_tokens=int(max_new_tokens),
        temperature=float(temperature),
        seed=int(seed),
        stop_sequences=chosen_stop_sequences(stops, blank_line=bool(stop_blank), extra=extra),
    )


# --- Salience and step scores: one engine and one scorer per loaded model.
def salience_engine(model: Any) -> Any:
    """The SalienceEngine of `model`, shared by all sessions so its cache is too."""
    return _registry().salience_engine(model)


def scorer(model: Any) -> Any:
    """The ContinuationScorer of `model`, shared by all sessions so its graphs are traced once."""
    return _registry().scorer(model)


def review_panel(store: Any, *, reviews: list[Any], key: str, run_id: int | None = None, subject: str | None = None) -> None:
    """Shows the reviews of one run or comparison and a form to add one.

    Args:
        store: the store to save to.
        reviews: the reviews already given on this subject, oldest first.
        key: distinguishes this panel's widgets from other panels'.
        run_id: the run reviewed, or
        subject: the comparison reviewed (`comparison_subject`).
    """
    from promptkit.store.records import VERDICTS

    # Widgets keyed by what is reviewed: a draft typed for one run must not
    # stay in the form, and be saved, when another run is opened.
    key = f"{key}::{run_id if run_id is not None else subject}"
    for review in reviews:
        st.markdown(review_markdown(review))
        if review.comment:
            st.text(review.comment)
    if not reviews:
        st.caption("No reviews yet.")
    form_number = st.session_state.setdefault(f"pk_review_n::{key}", 0)  # A fresh form after each save.
    with st.form(f"pk_review_form::{key}::{form_number}"):
        verdict = st.radio("Your verdict", VERDICTS, index=None, horizontal=True, key=f"pk_verdict::{key}::{form_number}")
        comment = st.text_area(
            "Comment", key=f"pk_comment::{key}::{form_number}", placeholder="What is right or wrong with it?"
        )
        reviewer = st.text_input("Your name", value=st.session_state.get("pk_reviewer_name", ""))
        submitted = st.form_submit_button("Save review", type="primary")
    if submitted and verdict is None:
        st.error("Pick a verdict (good, bad or unsure) before saving.")
    elif submitted:
        with guard():
            st.session_state["pk_reviewer_name"] = reviewer
            store.add_review(
                run_id=run_id, subject=subject, verdict=verdict, comment=comment, reviewer=reviewer.strip() or "anonymous"
            )
            st.session_state[KEY_NOTICE] = f"Review saved for {f'run #{run_id}' if run_id is not None else 'this comparison'}."
            st.session_state[f"pk_review_n::{key}"] = form_number + 1
            st.rerun()


def store_and_families() -> tuple[Any, dict[str, Any]]:
    """The store and its template families by name; stops the page with a message if unreadable."""
    try:
        store = get_store()
        return store, {family.name: family for family in store.list_families()}
    except Exception as error:  # noqa: BLE001 - any failure becomes a message, not a traceback.
        show_error(error)
        st.stop()
        raise  # st.stop() raises; this keeps type checkers and readers sure.

"""Shared glue for the dashboard pages: model and store caching, errors, small renderers.

Pages stay thin: they read widgets, call promptkit, and hand results to the
helpers here. Nothing in this module decides anything about prompts, models or
scores; it only adapts the library to Streamlit.

Environment:
    PROMPTKIT_MODEL: model preselected in the sidebar (default: the embedded
        Gemma 3 270M; tests use `tiny:gemma3`).
    PROMPTKIT_LOAD_LOG: if set, one line is appended to this file each time a
        model is actually loaded (tests check the model loads once).
    PROMPTKIT_DB / PROMPTKIT_DB_URL: the store (see promptkit.store).
"""

from __future__ import annotations

import contextlib
import html
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from promptkit.errors import PromptkitError

# ---------------------------------------------------------------------------
# Session-state keys shared between pages.
# ---------------------------------------------------------------------------
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
BLANK_LINE_STOP = "\n\n"


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


def default_model_name() -> str:
    """The model preselected in the sidebar: `PROMPTKIT_MODEL`, else the embedded Gemma."""
    from promptkit.models.loader import EMBEDDED_MODEL

    return os.environ.get("PROMPTKIT_MODEL") or EMBEDDED_MODEL


# ---------------------------------------------------------------------------
# Errors: a short message, never a traceback.
# ---------------------------------------------------------------------------
def error_message(error: BaseException) -> str:
    """The text to show a user for `error`."""
    if isinstance(error, PromptkitError):
        return str(error)
    detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
    detail = detail[:300]
    return (
        f"Something went wrong ({type(error).__name__}{': ' + detail if detail else ''}). "
        "Check your inputs and try again; if it keeps happening, reload the page."
    )


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


# ---------------------------------------------------------------------------
# The model: loaded once per process, shared by all sessions.
# ---------------------------------------------------------------------------
@dataclass
class _ModelRegistry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    models: dict[tuple[str, str | None], Any] = field(default_factory=dict)
    failures: dict[tuple[str, str | None], str] = field(default_factory=dict)
    engines: dict[int, Any] = field(default_factory=dict)
    loads: int = 0


@st.cache_resource(show_spinner=False)
def _registry() -> _ModelRegistry:
    return _ModelRegistry()


def _log_load(name: str, seconds: float) -> None:
    path = os.environ.get("PROMPTKIT_LOAD_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"{time.time():.3f}\t{os.getpid()}\t{name}\t{seconds:.2f}\n")


def _load_once(name: str, dtype: str | None) -> Any:
    """Loads `name` once per process, with a visible status while loading."""
    from promptkit.models.loader import load_model

    registry = _registry()
    key = (name, dtype)
    if key in registry.models:
        return registry.models[key]
    if key in registry.failures:
        raise PromptkitError(registry.failures[key])
    with st.status(f"Preparing {name}…", expanded=True) as status:
        if registry.lock.locked():
            status.write("Another session is loading a model; waiting for it…")
        with registry.lock:
            if key in registry.models:  # loaded meanwhile by another session
                status.update(label=f"{name} is ready", state="complete", expanded=False)
                return registry.models[key]
            started = time.perf_counter()
            try:
                model = load_model(name, dtype=dtype, progress=status.write)
            except PromptkitError as error:
                registry.failures[key] = str(error)
                status.update(label=f"Could not load {name}", state="error", expanded=False)
                raise
            registry.models[key] = model
            registry.loads += 1
            _log_load(name, time.perf_counter() - started)
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
    name = st.session_state.get(KEY_MODEL_NAME) or default_model_name()
    dtype = st.session_state.get(KEY_DTYPE)
    dtype = None if dtype in (None, "automatic") else dtype
    try:
        return _load_once(name, dtype)
    except PromptkitError as error:
        fallback = default_model_name()
        st.warning(f"{error}\n\nUsing {fallback} instead.", icon=":material/undo:")
        if name == fallback and dtype is None:
            return None
    except Exception as error:  # noqa: BLE001
        show_error(error)
        fallback = default_model_name()
        if name == fallback and dtype is None:
            return None
    try:
        return _load_once(default_model_name(), None)
    except Exception as error:  # noqa: BLE001
        show_error(error)
        return None


def loaded_model_count() -> int:
    """How many models this process has loaded (for tests and the sidebar)."""
    return _registry().loads


def model_sidebar() -> Any:
    """Draws the sidebar model picker and returns the loaded model (or None)."""
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
            info = model.info
            st.markdown(
                f"**{info.name}**  \n"
                f"Device: {info.device} · {info.dtype}  \n"
                f"Loaded in {info.load_seconds:.1f} s"
                + (f"  \n_{info.note}_" if info.note else "")
            )
    return model


# ---------------------------------------------------------------------------
# The store: one per process.
# ---------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------
# Small renderers (HTML), used by several pages.
# ---------------------------------------------------------------------------
def token_shading_html(tokens: Sequence[Any]) -> str:
    """Generated tokens shaded by probability (darker = less likely), hover shows p."""
    import math

    pieces = []
    for token in tokens:
        probability = math.exp(token.logprob) if token.logprob is not None else 1.0
        alpha = 0.65 * (1.0 - probability)
        text = html.escape(token.text).replace("\n", "↵<br>")
        pieces.append(
            f'<span title="p = {probability:.3f}" style="background: rgba(230, 120, 30, {alpha:.2f}); '
            f'border-radius: 3px; padding: 1px 0;">{text}</span>'
        )
    return (
        '<div style="font-family: monospace; white-space: pre-wrap; overflow-wrap: anywhere; line-height: 1.9;">'
        + "".join(pieces)
        + "</div>"
    )


def diff_html(spans: Sequence[Any]) -> str:
    """Renders equal/insert/delete spans: insertions green, deletions red and struck."""
    styles = {
        "insert": "background:#c8f7c5;text-decoration:none;",
        "delete": "background:#f9c6c6;text-decoration:line-through;",
    }
    pieces = []
    for span in spans:
        kind = getattr(span, "kind", None) or getattr(span, "op", None) or span[0]
        text = getattr(span, "text", None)
        if text is None:
            text = span[1]
        escaped = html.escape(text).replace("\n", "<br>")
        kind = str(getattr(kind, "value", kind))
        if kind in styles:
            tag = "ins" if kind == "insert" else "del"
            pieces.append(f'<{tag} style="{styles[kind]}">{escaped}</{tag}>')
        else:
            pieces.append(escaped)
    return '<div style="white-space: pre-wrap; overflow-wrap: anywhere; line-height: 1.6;">' + "".join(pieces) + "</div>"


def pre_html(text: str) -> str:
    """Plain text in a box, whitespace kept, escaped."""
    return (
        '<div style="white-space: pre-wrap; overflow-wrap: anywhere; font-family: monospace; background: #f6f6f9; '
        'padding: 0.6em; border-radius: 6px;">' + html.escape(text) + "</div>"
    )


def version_label(version: Any) -> str:
    """'v2 · fewshot-fixed' for a version record."""
    label = getattr(version, "label", None)
    return f"v{version.number}" + (f" · {label}" if label else "")


def notice() -> None:
    """Shows (once) a message left by a previous run of the script."""
    message = st.session_state.pop(KEY_NOTICE, None)
    if message:
        st.success(message)


# ---------------------------------------------------------------------------
# Generation settings widgets and saving runs.
# ---------------------------------------------------------------------------
def settings_widgets(defaults: Any = None, *, key: str) -> Any:
    """Generation-settings inputs (call inside a form); returns GenerationSettings.

    Args:
        defaults: the version's GenerationDefaults, if any.
        key: prefix for widget keys, unique per page.

    Raises:
        PromptError: if the settings are invalid.
    """
    from promptkit.generation import GenerationSettings

    max_tokens = getattr(defaults, "max_new_tokens", 64) or 64
    stops = tuple(getattr(defaults, "stop_sequences", ()) or (BLANK_LINE_STOP,))
    with st.expander("Generation settings", expanded=False):
        left, middle, right = st.columns(3)
        max_new_tokens = left.number_input(
            "Max new tokens", min_value=1, max_value=2048, value=int(max_tokens), key=f"{key}_max_tokens"
        )
        temperature = middle.number_input(
            "Temperature (0 = always the likeliest word)",
            min_value=0.0,
            max_value=2.0,
            value=0.0,
            step=0.1,
            key=f"{key}_temperature",
        )
        seed = right.number_input("Seed (for sampling)", min_value=0, value=0, step=1, key=f"{key}_seed")
        stop_blank = st.checkbox(
            "Stop at a blank line (recommended for few-shot prompts)",
            value=BLANK_LINE_STOP in stops,
            key=f"{key}_stop_blank",
        )
        extra = st.text_input(
            "Other stop text (optional)",
            value="",
            key=f"{key}_stop_extra",
            help="Generation also stops when this text appears.",
        )
    stop_sequences = tuple(
        [BLANK_LINE_STOP] * bool(stop_blank) + [stop for stop in stops if stop != BLANK_LINE_STOP] + [extra] * bool(extra)
    )
    return GenerationSettings(
        max_new_tokens=int(max_new_tokens),
        temperature=float(temperature),
        seed=int(seed),
        stop_sequences=stop_sequences,
    )


def settings_record(settings: Any) -> dict[str, Any]:
    """GenerationSettings as JSON-ready data for the store."""
    import dataclasses

    data = dataclasses.asdict(settings)
    data["stop_sequences"] = list(data["stop_sequences"])
    return data


def tokens_record(completion: Any) -> list[dict[str, Any]]:
    """A completion's tokens as JSON-ready data for the store."""
    return [
        {"id": token.id, "text": token.text, "start": token.start, "end": token.end, "logprob": token.logprob}
        for token in completion.tokens
    ]


def save_completion(
    store: Any,
    *,
    family: str,
    version: int,
    model: Any,
    completion: Any,
    values: dict[str, str],
    settings: Any,
    case_id: str | None,
) -> Any:
    """Saves one completion as a run; returns the RunRecord."""
    return store.add_run(
        family=family,
        version=version,
        model=model.info.name,
        prompt=completion.prompt,
        completion=completion.text,
        variables=values,
        generation=settings_record(settings),
        seed=settings.seed if not settings.greedy else None,
        tokens=tokens_record(completion),
        stop_reason=str(getattr(completion.stop_reason, "value", completion.stop_reason)),
        timings=completion.timings,
        case_id=case_id,
    )


@dataclass(frozen=True)
class StoredToken:
    """A token read back from a stored run (same fields as GeneratedToken)."""

    text: str
    start: int
    end: int
    logprob: float | None


def stored_tokens(run: Any) -> list[StoredToken]:
    """The tokens of a stored run, as objects for `token_shading_html`."""
    return [
        StoredToken(item.get("text", ""), item.get("start", 0), item.get("end", 0), item.get("logprob"))
        for item in (run.tokens or [])
        if isinstance(item, dict)
    ]


def run_label(run: Any) -> str:
    """'#12 · menu-analysis v2 · quiche-cant-eat-eggs · 14:02' for a run record."""
    when = run.created_at.strftime("%Y-%m-%d %H:%M") if getattr(run, "created_at", None) else ""
    case = run.case_id or "own values"
    return f"#{run.id} · {run.family} v{run.version} · {case} · {when}"


class RecordingSink:
    """Forwards runs to the store and remembers their ids by (version, prompt).

    `promptkit.evaluation.run_matrix` saves each cell but returns no run ids;
    the Compare page needs them to open a cell in the Salience page.
    """

    def __init__(self, store: Any) -> None:
        self.store = store
        self.run_ids: dict[tuple[int, str], int] = {}

    def add_run(self, **fields: Any) -> Any:
        record = self.store.add_run(**fields)
        self.run_ids[(int(fields["version"]), fields["prompt"])] = record.id
        return record


def line_of_interest(family: Any) -> str | None:
    """The output line a family's cases check (e.g. 'Recommendation:'), if any."""
    for case in getattr(family, "cases", ()):
        expect = getattr(case, "expect", None)
        if expect is not None and expect.line:
            return expect.line
    return None


def with_max_new_tokens(version: Any, max_new_tokens: int) -> Any:
    """A copy of a library Version whose generation defaults ask for `max_new_tokens`."""
    import dataclasses

    generation = dataclasses.replace(version.generation, max_new_tokens=max_new_tokens)
    return dataclasses.replace(version, generation=generation)


def matrix_from_runs(family: Any, runs: Sequence[Any]) -> Any:
    """A MatrixResult of the newest stored run per (version, case), for the HTML report.

    Runs without a test case are left out; at most four versions (the
    newest) are kept so the report stays readable.
    """
    from promptkit.evaluation import MatrixResult, run_checks
    from promptkit.evaluation.results import Cell, summarise

    cases = {case.id: case for case in family.cases}
    versions = {version.number: version for version in family.versions}
    newest: dict[tuple[int, str], Any] = {}
    for run in sorted(runs, key=lambda r: r.id):
        if run.case_id in cases and run.version in versions:
            newest[(run.version, run.case_id)] = run
    numbers = sorted({number for number, _ in newest})[-4:]
    case_ids = [case_id for case_id in cases if any((n, case_id) in newest for n in numbers)]
    cells = []
    for number in numbers:
        for case_id in case_ids:
            run = newest.get((number, case_id))
            if run is None:
                cells.append(Cell(version=number, case=case_id, prompt=None, error="not run yet"))
                continue
            expect = cases[case_id].expect
            checks = tuple(run_checks(expect, prompt=run.prompt, completion=run.completion)) if expect else ()
            cells.append(
                Cell(
                    version=number,
                    case=case_id,
                    prompt=run.prompt,
                    completion=run.completion,
                    checks=checks,
                    acceptable=tuple(expect.labels) if expect else (),
                    error=run.error,
                )
            )
    labels = tuple(family.candidate_labels)
    return MatrixResult(
        model=", ".join(sorted({run.model for run in newest.values()})),
        family=family.name,
        versions=tuple(versions[n].as_version() for n in numbers),
        cases=tuple(cases[c] for c in case_ids),
        cells=tuple(cells),
        summary={n: summarise([c for c in cells if c.version == n], labels=labels) for n in numbers},
        labels=labels,
    )


def reviews_html(reviews: Sequence[Any], runs_by_id: dict[int, Any]) -> str:
    """The reviewers' notes as an HTML section (all user text escaped)."""
    rows = []
    for review in reviews:
        run = runs_by_id.get(review.run_id) if review.run_id is not None else None
        subject = run_label(run) if run is not None else (review.subject or f"run #{review.run_id}")
        rows.append(
            "<tr><td>{}</td><td>{}</td><td><b>{}</b></td><td>{}</td><td>{}</td></tr>".format(
                html.escape(review.created_at.strftime("%Y-%m-%d %H:%M")),
                html.escape(subject),
                html.escape(review.verdict),
                html.escape(review.comment).replace("\n", "<br>"),
                html.escape(review.reviewer),
            )
        )
    body = "".join(rows) or '<tr><td colspan="5">No reviews yet.</td></tr>'
    return (
        '<section id="reviews"><h2>Reviewers\' notes</h2><table border="1" cellpadding="4" '
        'style="border-collapse:collapse"><tr><th>When</th><th>About</th><th>Verdict</th>'
        f"<th>Comment</th><th>Reviewer</th></tr>{body}</table></section>"
    )


def add_section(report: str, section: str) -> str:
    """Inserts an HTML section before the report's closing </body>."""
    index = report.lower().rfind("</body>")
    return report + section if index < 0 else report[:index] + section + report[index:]


# ---------------------------------------------------------------------------
# Salience: one engine (with its score cache) per loaded model.
# ---------------------------------------------------------------------------
GRANULARITY_LABELS = {
    "parts": "template parts",
    "paragraphs": "paragraphs",
    "lines": "lines",
    "sentences": "sentences",
    "words": "words",
    "tokens": "tokens",
}
AGGREGATION_LABELS = {"sum": "sum", "mean": "mean", "max": "max"}
WHOLE_COMPLETION = "(the whole completion)"


def salience_engine(model: Any) -> Any:
    """The SalienceEngine of `model`, shared by all sessions so its cache is too."""
    from promptkit.salience import SalienceEngine

    registry = _registry()
    with registry.lock:
        engine = registry.engines.get(id(model))
        if engine is None:
            engine = registry.engines[id(model)] = SalienceEngine(model)
    return engine


def completion_lines(completion: str) -> list[tuple[str, int, int]]:
    """Non-blank lines of a completion as (text, start, end) offsets into it."""
    lines, offset = [], 0
    for raw in completion.splitlines(keepends=True):
        text = raw.rstrip("\r\n")
        if text.strip():
            lead = len(text) - len(text.lstrip())
            lines.append((text.strip(), offset + lead, offset + len(text.rstrip())))
        offset += len(raw)
    return lines


def line_selection(completion: str, choice: str, prefix: str | None) -> Any:
    """The salience Selection for a line picked by its text (or the whole completion).

    A line that starts with the family's line of interest (e.g.
    'Recommendation:') is selected by that prefix, so the prefix itself is not
    part of the target; other lines by their character range.
    """
    from promptkit.salience import CharRange, LinePrefix, WholeTarget

    if choice == WHOLE_COMPLETION:
        return WholeTarget()
    for text, start, end in completion_lines(completion):
        if text == choice:
            if prefix and text.startswith(prefix) and text[len(prefix) :].strip():
                return LinePrefix(prefix)
            return CharRange(start, end)
    return WholeTarget()


def default_line(completion: str, prefix: str | None) -> str:
    """The line starting with `prefix` when there is one, else the whole completion."""
    for text, _, _ in completion_lines(completion):
        if prefix and text.startswith(prefix):
            return text
    return WHOLE_COMPLETION


def template_parts(store: Any, run: Any) -> tuple[Any, ...]:
    """The template parts of a run's prompt (empty when they cannot be rebuilt)."""
    from promptkit.templates import render_template

    try:
        version = store.get_version(family=run.family, version=run.version)
        rendered = render_template(version.text, run.variables)
    except Exception:  # noqa: BLE001 - parts are optional.
        return ()
    return rendered.parts if rendered.text == run.prompt else ()

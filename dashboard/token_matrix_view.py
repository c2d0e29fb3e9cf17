"""The Salience page's "Token by token" view: every token of the answer explained at once (Inseq's matrix)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import streamlit as st

from dashboard.identity import acting_key
from dashboard.messages import show_error
from dashboard.salience_link import show_link
from dashboard.salience_view import stop_control
from dashboard.snippets import GRANULARITY_LABELS
from promptkit.salience import (
    AGGREGATIONS,
    ATTENTION,
    HEAD_AGGREGATIONS,
    SalienceEngine,
    SegmentMatrix,
    TokenMatrix,
    get_method,
    matrix_csv,
    matrix_json,
    matrix_method_names,
    score_title,
    text_heatmap_html,
    token_matrix_figure,
    top_segments_figure,
)
from promptkit.store import RunRecord, Store
from promptkit.workflows.explain import TOKENS_VIEW, ExplanationLink, explain_run_tokens, matrix_params

ROW_GRANULARITIES = ("tokens", "words", "sentences", "lines")
_FIGURE_KEY = "pk_tm_matrix"
_ROW_KEY = "pk_tm_row"


@dataclass(frozen=True)
class MatrixSettings:
    """How the matrix is computed and shown, as picked in the view."""

    method: str
    params: dict[str, Any]
    granularity: str
    rows: str
    pattern: str | None
    aggregation: str
    gain: float


def show(store: Store, engine: SalienceEngine | None, run: RunRecord, parts: list[Any]) -> None:
    """Draws the view for `run`'s completion: settings, the matrix, one row's explanation, downloads, its link.

    Args:
        store: the store, where the matrix is kept with the run (so changing
            how it is shown, or opening its link, never reaches the model).
        engine: the model's SalienceEngine, or None (the store alone).
        run: the run explained.
        parts: its template parts (none: no "template parts" grouping).
    """
    st.caption(
        "Each row is one token of the answer, each column a piece of the prompt (and of the answer before it): "
        "how much that piece drove the model to write that token. The bar beside a row is the token's "
        "probability (orange: the answer could easily have gone another way there)."
    )
    settings = _pick_settings(engine, parts)
    method = get_method(settings.method)
    try:
        matrix = _compute(store, engine, run, settings)
    except Exception as error:  # noqa: BLE001 - e.g. a matrix not stored and no model to compute it
        show_error(error)
        st.stop()
    grouped = matrix.segments(
        settings.granularity, aggregation=settings.aggregation, rows=settings.rows,
        row_aggregation=settings.aggregation, pattern=settings.pattern, parts=parts,
    )
    score = score_title(settings.method, aggregation=settings.aggregation)
    st.plotly_chart(
        token_matrix_figure(grouped, gain=settings.gain, score=score),
        width="stretch",
        config={"displayModeBar": False},
        key=_FIGURE_KEY,
        on_select=lambda: _select_clicked_row(len(grouped.rows)),
        selection_mode="points",
    )
    st.caption(method.legend)
    _row_explanation(grouped, settings, score)
    _downloads(run, matrix, grouped, settings)
    custom = "custom" in (settings.granularity, settings.rows)
    show_link(ExplanationLink(
        run.id, TOKENS_VIEW, settings.method, settings.granularity, settings.aggregation,
        pattern=settings.pattern if custom else None, rows=settings.rows, layers=settings.params.get("layers"),
        heads=settings.params.get("heads"),
    ))


def _pick_settings(engine: SalienceEngine | None, parts: list[Any]) -> MatrixSettings:
    """Draws the method, attention layer and head, grouping, aggregation and intensity inputs."""
    methods = list(matrix_method_names())
    c1, c2, c3, c4, c5 = st.columns([2, 2, 2, 1, 2])
    method = c1.selectbox(
        "Method", methods, format_func=lambda name: get_method(name).title, key="pk_tm_method",
        help="\n".join(f"- **{name}**: {get_method(name).description}" for name in methods),
    )
    params: dict[str, Any] = {}
    if method == ATTENTION and engine is not None:
        params = _pick_attention(engine.attention.num_layers)
    elif method == ATTENTION:  # no model: the layers and heads the link gave
        params = matrix_params(method, layers=_linked_layers(), heads=st.session_state.get("pk_tm_heads"))
        c1.caption(f"Layers {params['layers']}, heads combined by {params['heads']} (load a model to pick others).")
    granularities = [g for g in GRANULARITY_LABELS if g != "parts" or parts]
    if st.session_state.get("pk_tm_granularity") not in granularities:
        st.session_state["pk_tm_granularity"] = "words"
    granularity = c2.selectbox(
        "Columns by", granularities, format_func=GRANULARITY_LABELS.get, key="pk_tm_granularity",
        help="How the prompt (and the answer before each token) is cut into columns.",
    )
    rows = c3.selectbox(
        "Rows by", ROW_GRANULARITIES, format_func=GRANULARITY_LABELS.get, key="pk_tm_rows",
        help="Tokens: one row per token of the answer; a row of several tokens combines theirs.",
    )
    pattern = None
    if "custom" in (granularity, rows):
        pattern = c2.text_input("Cut after each match of", value=r"\n+", key="pk_tm_pattern")
    aggregation = c4.selectbox(
        "Combine", list(AGGREGATIONS), key="pk_tm_aggregation",
        help="How the scores of the tokens in one piece (column or row) are combined.",
    )
    gain = c5.slider("Colour intensity", 0.0, 1.0, 0.4, 0.05, key="pk_tm_gain")
    return MatrixSettings(method, params, granularity, rows, pattern, aggregation, gain)


def _pick_attention(num_layers: int) -> dict[str, Any]:
    """Draws which layers are averaged and how heads combine; returns the attention parameters."""
    c1, c2, c3 = st.columns([2, 3, 2])
    choice = c1.radio("Layers", ["All, averaged", "One layer", "A range"], horizontal=True, key="pk_tm_layer_kind")
    last = num_layers - 1
    if choice == "One layer":
        layer = c2.slider("Layer (0 is the first)", 0, last, last, key="pk_tm_layer")
        layers = str(layer)
    elif choice == "A range":
        first, end = c2.slider("Layers averaged (0 is the first)", 0, last, (0, last), key="pk_tm_layer_range")
        layers = f"{first}-{end}"
    else:
        layers = "all"
    heads = c3.selectbox("Heads", HEAD_AGGREGATIONS, key="pk_tm_heads", help="Each layer's heads: their mean or their max.")
    return {"layers": layers, "heads": heads}


def _linked_layers() -> str:
    """The attention layers the inputs hold, as `matrix_params` takes them."""
    state = st.session_state
    kind = state.get("pk_tm_layer_kind", "All, averaged")
    if kind == "One layer":
        return str(state["pk_tm_layer"])
    if kind == "A range":
        first, last = state["pk_tm_layer_range"]
        return f"{first}-{last}"
    return "all"


def _compute(store: Store, engine: SalienceEngine | None, run: RunRecord, settings: MatrixSettings) -> TokenMatrix:
    """The matrix of `run`'s completion (kept with the run), with a progress bar and a Stop button while it computes."""
    stop = stop_control(("tokens", run.id, settings.method, tuple(sorted(settings.params.items()))), key="pk_tm_stop")
    text = "Opening the stored explanation…"
    if engine is not None:
        text = f"Explaining the answer's {len(engine.model.tokenize(run.completion))} tokens one by one…"
    bar = st.progress(0.0, text=text)
    try:
        return explain_run_tokens(
            store, engine, run, method=settings.method, params=settings.params, actor=acting_key(),
            on_progress=lambda done, total: bar.progress(done / max(total, 1), text=f"Explained {done} of {total} tokens…"),
        )
    finally:
        bar.empty()
        stop.empty()


def _select_clicked_row(rows: int) -> None:
    """Shows the row of the clicked bar or cell below the matrix (the point's y is its row)."""
    points = st.session_state[_FIGURE_KEY]["selection"]["points"]
    picked = [int(point["y"]) for point in points if isinstance(point.get("y"), int | float)]
    if picked and 0 <= picked[0] < rows:
        st.session_state[_ROW_KEY] = picked[0]


def _row_explanation(grouped: SegmentMatrix, settings: MatrixSettings, score: str) -> None:
    """Draws one row's explanation over the text, the way the one-span view shows a span."""
    indices = list(range(len(grouped.rows)))
    if st.session_state.get(_ROW_KEY) not in indices:
        weakest = min(indices, key=lambda index: grouped.row_scores[index].logprob)
        st.session_state[_ROW_KEY] = weakest
    row = st.selectbox(
        "Explain this token of the answer over the text (or click its bar above)", indices, key=_ROW_KEY,
        format_func=lambda index: f"{index + 1}: {grouped.rows[index].text!r} · p = {grouped.row_scores[index].probability:.2f}",
    )
    scores = grouped.row_scores[row]
    alternatives = " · ".join(f"{a.text!r} {math.exp(a.logprob):.0%}" for a in scores.alternatives[:5])
    st.caption(
        f"Probability {scores.probability:.3f} · rank {scores.rank} · entropy {scores.entropy:.2f} nats"
        + (f" · the model's likeliest there: {alternatives}" if alternatives else "")
    )
    explanation = grouped.row_explanation(row)
    st.html(text_heatmap_html(explanation, gain=settings.gain, score=score))
    st.plotly_chart(
        top_segments_figure(explanation, k=10, score=score),
        width="stretch", config={"displayModeBar": False}, key="pk_tm_row_top",
    )


def _downloads(run: RunRecord, matrix: TokenMatrix, grouped: SegmentMatrix, settings: MatrixSettings) -> None:
    """The grouped matrix as CSV and JSON downloads, with what it cost."""
    seconds = matrix.timings.get("total_s", 0.0)
    st.caption(f"{len(matrix.steps)} tokens × {len(matrix.tokens)} positions, computed in {seconds:.1f} s.")
    left, right = st.columns(2)
    name = f"run{run.id}-{settings.method}-{settings.rows}-by-{settings.granularity}"
    left.download_button(
        "Download the matrix (CSV)", matrix_csv(grouped), file_name=f"{name}.csv", mime="text/csv",
        key="pk_tm_dl_csv", icon=":material/download:",
    )
    right.download_button(
        "Download the matrix (JSON)", matrix_json(matrix, grouped), file_name=f"{name}.json",
        mime="application/json", key="pk_tm_dl_json", icon=":material/download:",
    )

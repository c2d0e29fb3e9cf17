"""The Salience page's link (`?run=ID&view=…`): opening one puts its settings on the page; the page shows its own."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import streamlit as st

from dashboard.identity import acting_key
from dashboard.messages import show_error
from dashboard.state import KEY_SALIENCE_VIEW
from promptkit.errors import SalienceError
from promptkit.evaluation import line_of_interest
from promptkit.salience import (
    WHOLE_COMPLETION,
    SalienceEngine,
    attention_layers,
    completion_lines,
    line_selection,
    target_words,
)
from promptkit.salience.targets import CharRange, LinePrefix, line_range
from promptkit.store import RunRecord, Store
from promptkit.workflows.explain import SPAN_VIEW, TOKENS_VIEW, ExplanationLink, open_linked_run

VIEW_LABELS = {SPAN_VIEW: "One part of the answer", TOKENS_VIEW: "Token by token"}
_SHOWN_KEY = "pk_sal_linked"  # the query the page last put in the address bar


def line_of_interest_of(store: Store, run: RunRecord) -> str | None:
    """The line the run's family checks (e.g. 'Recommendation:'), explained first; None without one."""
    family = store.get_family(name=run.family)
    return line_of_interest(family.cases) if family else None


def opened_link(store: Store, engine: SalienceEngine | None) -> ExplanationLink | None:
    """The link the page was opened with, its settings put on the page's inputs once; None without one.

    A link to a missing run, one with tampered parameters, or one the person
    may not see shows a message and stops the page, so nothing else is shown.

    Args:
        store: the store holding the linked run.
        engine: the loaded model's SalienceEngine (its layers bound a link's), or None.
    """
    query = st.query_params.to_dict()
    if "run" not in query:
        return None
    try:
        link = ExplanationLink.parse(query)
        if query == st.session_state.get(_SHOWN_KEY):
            return link  # the page's own settings, written back: nothing to put on the inputs
        run = open_linked_run(store, link, actor=acting_key())
        if link.layers is not None and engine is not None:
            attention_layers(link.layers, engine.attention.num_layers)
        _put_on_inputs(link, run, line_of_interest_of(store, run), has_parts=bool(store.template_parts(run=run)))
    except Exception as error:
        show_error(error)
        st.stop()
        raise
    st.session_state[_SHOWN_KEY] = query
    return link


def forget_link() -> None:
    """Takes the link out of the address bar, for a view that has none (a reference text)."""
    st.query_params.clear()
    st.session_state[_SHOWN_KEY] = None


def show_link(link: ExplanationLink) -> None:
    """Shows the view's link, with Streamlit's copy button, and puts it in the address bar."""
    query = link.query()
    st.query_params.from_dict(query)
    st.session_state[_SHOWN_KEY] = query
    base = (st.context.url or "").split("?")[0]
    st.caption("Link to this explanation (copy it with the button at the right); it opens from the store, "
               "without running the model:")
    st.code(f"{base}?{urlencode(query, quote_via=quote)}", language=None)


def _put_on_inputs(link: ExplanationLink, run: RunRecord, prefix: str | None, *, has_parts: bool) -> None:
    """Sets the page's inputs to the link's settings.

    Raises:
        SalienceError: settings the run cannot have (template parts of a run without any).
    """
    if "parts" in (link.granularity, link.rows) and not has_parts:
        raise SalienceError(f"This link groups by template parts, but run #{run.id} has none; check the link you were sent.")
    state = st.session_state
    state["pk_sal_run"] = run.id
    state[KEY_SALIENCE_VIEW] = None
    state["pk_sal_view"] = VIEW_LABELS[link.view]
    if link.view == TOKENS_VIEW:
        state.update(pk_tm_method=link.method, pk_tm_granularity=link.granularity, pk_tm_rows=link.rows,
                     pk_tm_aggregation=link.aggregation)
        if link.pattern is not None:
            state["pk_tm_pattern"] = link.pattern
        if link.layers is not None:
            state["pk_tm_heads"] = link.heads
            if link.layers == "all":
                state["pk_tm_layer_kind"] = "All, averaged"
            elif "-" in link.layers:
                first, last = (int(layer) for layer in link.layers.split("-"))
                state.update(pk_tm_layer_kind="A range", pk_tm_layer_range=(first, last))
            else:
                state.update(pk_tm_layer_kind="One layer", pk_tm_layer=int(link.layers))
        return
    state.update(pk_sal_method=link.method, pk_sal_method_wanted=link.method, pk_sal_contrast=link.contrast or "",
                 pk_sal_granularity=link.granularity, pk_sal_aggregation=link.aggregation)
    if link.pattern is not None:
        state["pk_sal_pattern"] = link.pattern
    assert link.span is not None
    _put_target(run, link.span, prefix)


def _put_target(run: RunRecord, span: tuple[int, int], prefix: str | None) -> None:
    """Picks the line whose words the span covers, else the span's words (a span is its tokens' extent)."""
    words = target_words(run.completion)
    covered = _words_in(words, *span)
    if not covered:
        raise SalienceError(f"This link's span {span[0]}–{span[1]} holds no word of run #{run.id}'s answer; "
                            "check the link you were sent.")
    state = st.session_state
    lines = [WHOLE_COMPLETION, *(text for text, _, _ in completion_lines(run.completion))]
    for line in lines:
        if covered == _words_in(words, *_line_chars(run.completion, line, prefix)):
            state.update({"pk_sal_target_kind": "A line of the completion", f"pk_sal_line::{run.id}": line})
            return
    labels = [f"{number}: {text}" for number, (text, _, _) in enumerate(words, start=1)]
    state.update({"pk_sal_target_kind": "Words I pick in the completion",
                  f"pk_sal_words::{run.id}": (labels[covered[0]], labels[covered[-1]])})


def _line_chars(completion: str, line: str, prefix: str | None) -> tuple[int, int]:
    """The characters a line choice explains."""
    selection = line_selection(completion, line, prefix=prefix)
    if isinstance(selection, LinePrefix):
        chosen = line_range(completion, selection)
        return chosen.start, chosen.end
    if isinstance(selection, CharRange):
        return selection.start, selection.end
    return 0, len(completion)


def _words_in(words: list[tuple[str, int, int]], start: int, end: int) -> list[int]:
    """The numbers of the words with a character in [start, end)."""
    return [number for number, (_, first, last) in enumerate(words) if first < end and last > start]

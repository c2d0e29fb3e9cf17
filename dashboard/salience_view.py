"""The Salience page's steps: what to explain, how to show it, the scores' legend, downloads and the A/B view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.identity import acting_key
from dashboard.messages import show_error
from dashboard.salience_link import VIEW_LABELS
from dashboard.snippets import GRANULARITY_LABELS, completeness_note, run_label
from dashboard.state import KEY_SALIENCE_RUN, KEY_SALIENCE_RUN_B, KEY_SALIENCE_VIEW
from promptkit.errors import PromptkitError
from promptkit.salience import (
    AGGREGATIONS,
    WHOLE_COMPLETION,
    SalienceEngine,
    SalienceMethod,
    SalienceResult,
    SegmentScores,
    ab_heatmap_html,
    completion_lines,
    contrast_method_names,
    default_line,
    get_method,
    line_selection,
    method_names,
    part_shift_table,
    segments_csv,
    target_words,
    to_json,
    tokens_csv,
    words_selection,
)
from promptkit.salience.contrast import odds_sentence
from promptkit.salience.targets import CharRange
from promptkit.store import RunRecord, Store
from promptkit.workflows.explain import SPAN_VIEW, ExplanationLink, SpanRequest, explain_run, explain_text

_STOPPED = "pk_sal_stopped"  # the computation the person stopped, until they continue it


@dataclass(frozen=True)
class Target:
    """The text explained and the part of it picked."""

    text: str
    selection: Any
    is_completion: bool  # the run's own completion, not a reference text typed by the user


@dataclass(frozen=True)
class Settings:
    """How the scores are computed and shown, as picked on the page."""

    method: SalienceMethod
    granularity: str
    pattern: str | None  # the custom granularity's regular expression
    aggregation: str
    gain: float
    self_salience: bool


def preselect_run(runs_by_id: dict[int, Any], default: int) -> None:
    """Makes the run picker show the run another page asked for, else the one shown before, else `default`."""
    requested = st.session_state.get(KEY_SALIENCE_RUN)
    if requested in runs_by_id:
        st.session_state["pk_sal_run"] = requested
        st.session_state[KEY_SALIENCE_RUN] = None
        view = st.session_state.pop(KEY_SALIENCE_VIEW, None)
        st.session_state["pk_sal_view"] = VIEW_LABELS[view or SPAN_VIEW]
    if st.session_state.get("pk_sal_run") not in runs_by_id:
        st.session_state["pk_sal_run"] = default


def pick_target(run: RunRecord, prefix: str | None) -> Target:
    """Draws the "What to explain" choice and its inputs; stops the page while there is nothing to explain.

    Args:
        run: the run explained.
        prefix: the line the family's cases check (e.g. 'Recommendation:'), picked by default.

    Returns:
        The target picked.
    """
    target_kind = st.radio(
        "What to explain",
        ["A line of the completion", "Words I pick in the completion", "A reference text I type"],
        horizontal=True,
        key="pk_sal_target_kind",
    )
    if target_kind == "A line of the completion":
        lines = [WHOLE_COMPLETION, *(text for text, _, _ in completion_lines(run.completion))]
        line_key = f"pk_sal_line::{run.id}"
        if st.session_state.get(line_key) not in lines:
            st.session_state[line_key] = default_line(run.completion, prefix=prefix)
        choice = st.selectbox("Line", lines, key=line_key)
        return Target(run.completion, line_selection(run.completion, choice, prefix=prefix), is_completion=True)
    if target_kind == "Words I pick in the completion":
        words = target_words(run.completion)
        if not words:
            st.info("This completion has no words to pick; explain it as a whole line instead.")
            st.stop()
        labels = [f"{number}: {text}" for number, (text, _, _) in enumerate(words, start=1)]
        first, last = st.select_slider(
            "From word … to word … (drag either end, or use the arrow keys)",
            options=labels,
            value=(labels[-1], labels[-1]),
            key=f"pk_sal_words::{run.id}",
        )
        return Target(run.completion, words_selection(run.completion, labels.index(first), labels.index(last)), is_completion=True)
    with st.form("pk_sal_reference_form"):
        st.text_area(
            "Reference text (what you wish the model had written after the prompt)",
            key="pk_sal_reference",
            placeholder=" This dish contains eggs, which you can't eat.\nRecommendation: Not suitable for you.",
        )
        st.form_submit_button("Explain this text")
    text = st.session_state.get("pk_sal_reference", "")
    selection = line_selection(text, WHOLE_COMPLETION, prefix=None)
    if not text.strip():
        st.info("Type a reference text and press **Explain this text**.")
        st.stop()
    return Target(text, selection, is_completion=False)


def pick_settings(contrast: str | None, parts: list[Any]) -> Settings:
    """Draws the method, granularity, aggregation, intensity and self-salience inputs.

    Args:
        contrast: the alternative text, if any (only methods that allow a contrast are offered then).
        parts: the run's template parts (none: no "template parts" granularity).

    Returns:
        The settings picked.
    """
    methods = list(contrast_method_names() if contrast else method_names())
    # The method the user picked comes back when a contrast that ruled it out is cleared.
    wanted = st.session_state.setdefault("pk_sal_method_wanted", st.session_state.get("pk_sal_method", methods[0]))
    st.session_state["pk_sal_method"] = wanted if wanted in methods else methods[0]
    c1, c2, c3, c4 = st.columns([2, 2, 1, 2])
    method = c1.selectbox(
        "Method", methods, format_func=lambda name: get_method(name).title, key="pk_sal_method",
        help="\n".join(f"- **{name}**: {get_method(name).description}" for name in methods),
        on_change=lambda: st.session_state.update(pk_sal_method_wanted=st.session_state["pk_sal_method"]),
    )
    if wanted not in methods:
        c1.caption(f"{get_method(wanted).title.capitalize()} does not contrast; it comes back when *Rather than…* is empty.")
    granularities = [g for g in GRANULARITY_LABELS if g != "parts" or parts]
    if st.session_state.get("pk_sal_granularity") not in granularities:
        st.session_state["pk_sal_granularity"] = "parts" if parts else "sentences"
    granularity = c2.selectbox(
        "Show by", granularities, format_func=GRANULARITY_LABELS.get, key="pk_sal_granularity",
        help="Template parts: each few-shot example, instruction and filled-in blank. Start there, then drill down.",
    )
    pattern = None
    if granularity == "custom":
        pattern = c2.text_input(
            "Cut after each match of", value=r"\n+", key="pk_sal_pattern",
            help="A regular expression: a new piece starts after each match (e.g. `\\n+` for lines, `[.;]` for clauses).",
        )
    chosen = get_method(method)
    summing = [other.title.capitalize() for other in map(get_method, method_names()) if other.aggregations == ("sum",)]
    aggregation = c3.selectbox(
        "Combine", list(AGGREGATIONS), key="pk_sal_aggregation", disabled=len(chosen.aggregations) == 1,
        help="How the scores of the tokens in one piece are combined (sum is the usual choice). "
        + " ".join(f"{title} scores whole pieces, so it always sums." for title in summing),
    )
    gain = c4.slider("Colour intensity", 0.0, 1.0, 0.4, 0.05, key="pk_sal_gain")
    self_salience = st.toggle("Colour the explained text itself too", value=False, key="pk_sal_self")
    if aggregation not in chosen.aggregations:
        aggregation = chosen.aggregations[0]
    return Settings(chosen, granularity, pattern, aggregation, gain, self_salience)


def linked_target(run: RunRecord, link: ExplanationLink | None) -> Target:
    """The span a link names, explained as it is stored (no model loaded to pick another); stops the page without one."""
    if link is None or link.span is None:
        st.error("No model is loaded; pick one in the sidebar.")
        st.stop()
        raise AssertionError("unreachable")
    st.caption("No model is loaded: this is the explanation stored for the link. Load a model in the sidebar to "
               "explain another part of the answer.")
    return Target(run.completion, CharRange(*link.span), is_completion=True)


def explain(
    store: Store, engine: SalienceEngine | None, run: RunRecord, target: Target, contrast: str | None, settings: Settings, *, parts: list[Any]
) -> SalienceResult:
    """Explains the run's `target` (the store's when it is kept there; else computed, and kept for gradient methods).

    Args:
        store: the store holding the run and its explanations.
        engine: the loaded model's SalienceEngine, or None (the store alone).
        run: the run explained.
        target: what to explain.
        contrast: the alternative text, if any.
        settings: the method, and for one that reads no gradients (occlusion) the pieces to leave out.
        parts: the run's template parts.

    Returns:
        The salience result.
    """
    request = SpanRequest(
        method=settings.method.name, selection=target.selection, contrast=contrast, granularity=settings.granularity,
        pattern=settings.pattern, parts=tuple(parts),
    )
    identity = ("span", run.id, target, contrast, settings.method.name, settings.granularity, settings.pattern)
    reference = None if target.is_completion else target.text
    if not settings.method.needs_gradients:
        stop = stop_control(identity, key="pk_sal_stop")
        bar = st.progress(0.0, text="Leaving each piece of the prompt out in turn…")
        try:
            return explain_run(
                store, engine, run, request, actor=acting_key(), target=reference,
                on_progress=lambda done, total: bar.progress(done / max(total, 1), text=f"Left out {done} of {total} pieces…"),
            )
        finally:
            bar.empty()
            stop.empty()
    # A method with parameters (integrated gradients' steps) is one long backend call: its Stop takes
    # effect when the call returns; the others are over too soon for one.
    stop = stop_control(identity, key="pk_sal_stop") if settings.method.parameters else st.empty()
    try:
        with st.spinner("Computing which parts of the prompt mattered…"):
            return explain_run(store, engine, run, request, actor=acting_key(), target=reference)
    finally:
        stop.empty()


def explain_other_prompt(
    engine: SalienceEngine | None, target: Target, contrast: str | None, settings: Settings, prompt: str, *, shown_by: str, prompt_parts: list[Any]
) -> SalienceResult:
    """Scores another prompt's pieces for the same `target` (the A/B view's version B; cached by the engine).

    Raises:
        PromptkitError: no model is loaded.
    """
    if engine is None:
        raise PromptkitError("The A/B view explains version B's prompt with the model; load a model in the sidebar.")
    request = SpanRequest(
        method=settings.method.name, selection=target.selection, contrast=contrast, granularity=shown_by,
        pattern=settings.pattern, parts=tuple(prompt_parts),
    )
    with st.spinner("Computing which parts of the prompt mattered…"):
        return explain_text(engine, prompt, target.text, request)


def current_link(run: RunRecord, target: Target, result: SalienceResult, contrast: str | None, settings: Settings) -> ExplanationLink | None:
    """The link of what the page shows; None for a reference text (it is not kept with the run)."""
    if not target.is_completion:
        return None
    start, end = (offset - len(run.prompt) for offset in result.target_span)
    pattern = settings.pattern if settings.granularity == "custom" else None
    return ExplanationLink(
        run.id, SPAN_VIEW, settings.method.name, settings.granularity, settings.aggregation, span=(start, end),
        contrast=contrast, pattern=pattern,
    )


def stop_control(identity: tuple[Any, ...], *, key: str) -> Any:
    """A Stop button for the computation `identity`, in a slot to empty when it is done.

    A click reruns the page, which ends the computation at its next progress
    update (one block of rows, or one piece); the page then says it stopped
    and computes nothing until **Continue**. What was finished stays: the
    rows in the engine, an explanation done in the store.

    Returns:
        The slot holding the button.
    """
    if st.session_state.get(_STOPPED) == identity:
        st.info("Stopped. What was finished is kept: **Continue** computes only the rest.", icon=":material/stop_circle:")
        st.button("Continue", key=f"{key}_continue", icon=":material/play_arrow:",
                  on_click=lambda: st.session_state.update({_STOPPED: None}))
        st.stop()
    slot = st.empty()
    slot.button("Stop", key=key, icon=":material/stop_circle:", on_click=lambda: st.session_state.update({_STOPPED: identity}))
    return slot


def heatmap_legend(result: SalienceResult, *, contrast: str | None, method: SalienceMethod) -> None:
    """Says what the heatmap's colours mean for this method, or for a contrast."""
    if contrast:
        st.info(odds_sentence(result), icon=":material/compare_arrows:")
        st.caption(
            "Orange pushed the model towards its answer, blue towards the alternative."
            if method.signed
            else "The darker a piece of the prompt, the more it separated the answer from the alternative."
        )
    else:
        st.caption(method.legend)


def result_notes_and_downloads(run: RunRecord, result: SalienceResult, segments: SegmentScores, settings: Settings) -> None:
    """Shows the method, loss and completeness of `result`, and its scores as CSV and JSON downloads."""
    granularity = settings.granularity
    st.caption(f"Method: {settings.method.title} · target loss {result.loss:.2f} · {len(result.tokens)} tokens")
    note = completeness_note(result)
    if note is not None:
        if note.large:
            st.warning(note.text, icon=":material/warning:")
        else:
            st.caption(note.text)
    st.download_button(
        "Download token scores (CSV)", tokens_csv(result), file_name=f"run{run.id}-tokens.csv",
        mime="text/csv", key="pk_sal_dl_tokens", icon=":material/download:",
    )
    st.download_button(
        f"Download {granularity} scores (CSV)", segments_csv(segments), file_name=f"run{run.id}-{granularity}.csv",
        mime="text/csv", key="pk_sal_dl_segments", icon=":material/download:",
    )
    st.download_button(
        "Download all scores (JSON)", to_json(result, segments), file_name=f"run{run.id}-salience.json",
        mime="application/json", key="pk_sal_dl_json", icon=":material/download:",
    )


def preselect_run_b(others: list[RunRecord], run: RunRecord) -> bool:
    """Makes the version-B picker show the run another page suggested, else the one shown before, else one like `run`.

    Returns:
        Whether another page suggested a run (the A/B view then opens at once).
    """
    others_by_id = {r.id: r for r in others}
    suggested = st.session_state.get(KEY_SALIENCE_RUN_B)
    if suggested in others_by_id:
        st.session_state["pk_sal_run_b"] = suggested
        st.session_state[KEY_SALIENCE_RUN_B] = None
    if st.session_state.get("pk_sal_run_b") not in others_by_id:
        same_case = [r for r in others if r.case_id == run.case_id and r.case_id is not None]
        st.session_state["pk_sal_run_b"] = (same_case or others)[0].id
    return bool(suggested)


def ab_view(store: Store, run: RunRecord, others: list[RunRecord], *, explain_prompt: Any, result: SalienceResult, segments: SegmentScores,
            parts: list[Any], settings: Settings, score: str) -> None:
    """Shows version B's prompt explaining the same answer, beside version A's, and how attribution moved.

    Args:
        store: the store, for B's template parts.
        run: run A, the one explained above.
        others: the runs B can be.
        explain_prompt: `explain_other_prompt` with the page's engine, target, contrast and settings.
        result: A's result.
        segments: A's segments at the page's granularity.
        parts: A's template parts.
        settings: the page's settings.
        score: the score's name in the figures.
    """
    others_by_id = {r.id: r for r in others}
    run_b_id = st.selectbox(
        "Version B (its prompt, explaining the same answer as above)",
        list(others_by_id),
        format_func=lambda i: run_label(others_by_id[i]),
        key="pk_sal_run_b",
    )
    run_b = others_by_id[run_b_id]
    parts_b = store.template_parts(run=run_b)
    granularity, aggregation = settings.granularity, settings.aggregation
    ab_granularity = granularity if granularity != "parts" or parts_b else "sentences"
    try:
        result_b = explain_prompt(run_b.prompt, shown_by=ab_granularity, prompt_parts=parts_b)
        if not settings.method.needs_gradients and ab_granularity != granularity:
            result = explain_prompt(run.prompt, shown_by=ab_granularity, prompt_parts=[])
    except Exception as error:  # noqa: BLE001
        show_error(error)
        st.stop()
    segments_b = result_b.segments(ab_granularity, aggregation=aggregation, parts=parts_b, pattern=settings.pattern)
    segments_a = segments if ab_granularity == granularity else result.segments(ab_granularity, aggregation=aggregation)
    st.html(
        ab_heatmap_html(
            segments_a, segments_b, titles=(f"A: v{run.version}", f"B: v{run_b.version}"), gain=settings.gain,
            self_salience=settings.self_salience, score=score,
        )
    )
    st.caption("Both sides share one colour scale, so the same shade means the same influence.")
    # A method that reads no gradients scores only the pieces it left out.
    if parts and parts_b and (settings.method.needs_gradients or granularity == "parts"):
        _part_shift(
            result.segments("parts", aggregation=aggregation, parts=parts),
            result_b.segments("parts", aggregation=aggregation, parts=parts_b),
        )


def _part_shift(segments_a: SegmentScores, segments_b: SegmentScores) -> None:
    """Shows how each template part's share of the attribution moved from A to B."""
    table = pd.DataFrame(part_shift_table(segments_a, segments_b))
    if not table.empty:
        table = table.rename(
            columns={"part": "Template part", "share_a": "Share in A", "share_b": "Share in B", "shift": "Shift (B − A)"}
        )[["Template part", "Share in A", "Share in B", "Shift (B − A)"]]
        st.markdown("**How attribution moved between template parts**")
        st.dataframe(
            table.style.format({"Share in A": "{:.1%}", "Share in B": "{:.1%}", "Shift (B − A)": "{:+.1%}"}),
            hide_index=True,
            width="stretch",
        )

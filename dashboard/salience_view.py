"""The Salience page's steps: what to explain, how to show it, the scores' legend, downloads and the A/B view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.messages import guard, show_error
from dashboard.snippets import GRANULARITY_LABELS, completeness_note, run_label
from dashboard.state import KEY_SALIENCE_RUN, KEY_SALIENCE_RUN_B
from promptkit.salience import (
    AGGREGATIONS,
    WHOLE_COMPLETION,
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
    if st.session_state.get("pk_sal_run") not in runs_by_id:
        st.session_state["pk_sal_run"] = default


def pick_target(run: Any, prefix: str | None) -> Target:
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


def explain(
    engine: Any, target: Target, contrast: str | None, settings: Settings, prompt: str, *, shown_by: str, prompt_parts: list[Any]
) -> SalienceResult:
    """Scores `prompt`'s pieces for `target` (cached by the engine: only a new run, target or method reaches the model).

    Args:
        engine: the model's SalienceEngine.
        target: what to explain.
        contrast: the alternative text, if any.
        settings: the method, and for one that reads no gradients (occlusion) the pieces to leave out (`pattern`).
        prompt: the prompt scored.
        shown_by: the granularity such a method leaves pieces out by.
        prompt_parts: `prompt`'s template parts.

    Returns:
        The salience result.
    """
    if not settings.method.needs_gradients:
        bar = st.progress(0.0, text="Leaving each piece of the prompt out in turn…")
        try:
            return engine.explain_occlusion(
                prompt, target.text, selection=target.selection, granularity=shown_by, parts=prompt_parts,
                pattern=settings.pattern,
                on_progress=lambda done, total: bar.progress(done / max(total, 1), text=f"Left out {done} of {total} pieces…"),
            )
        finally:
            bar.empty()
    with st.spinner("Computing which parts of the prompt mattered…"):
        return engine.explain(
            prompt, target.text, selection=target.selection, method=settings.method.name, contrast=contrast
        )


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


def result_notes_and_downloads(run: Any, result: SalienceResult, segments: SegmentScores, settings: Settings) -> None:
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


def remember_scores(store: Any, run: Any, result: SalienceResult, target: Target, contrast: str | None, settings: Settings) -> None:
    """Stores the token scores of `run`'s completion once per session and target (gradient methods only)."""
    start, end = result.target_span
    saved_key = (run.id, start, end, settings.method.name)
    # Stored scores are re-grouped at any granularity later, which only gradient scores allow.
    if (
        target.is_completion and not contrast and settings.method.needs_gradients
        and saved_key not in st.session_state.setdefault("pk_sal_saved", set())
    ):
        with guard():
            st.session_state["pk_sal_saved"].add(saved_key)
            store.put_salience(
                run_id=run.id,
                target_start=start - len(run.prompt),
                target_end=end - len(run.prompt),
                method=settings.method.name,
                scores=[{"text": t.text, "start": t.start, "end": t.end, "score": t.score} for t in result.tokens],
            )


def preselect_run_b(others: list[Any], run: Any) -> bool:
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


def ab_view(store: Any, run: Any, others: list[Any], *, explain_prompt: Any, result: SalienceResult, segments: SegmentScores,
            parts: list[Any], settings: Settings, score: str) -> None:
    """Shows version B's prompt explaining the same answer, beside version A's, and how attribution moved.

    Args:
        store: the store, for B's template parts.
        run: run A, the one explained above.
        others: the runs B can be.
        explain_prompt: `explain` with the page's engine, target, contrast and settings.
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

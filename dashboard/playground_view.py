"""The Playground page's steps: which version and case it shows, saving, generating, the last run."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard.identity import acting_key
from dashboard.messages import guard, show_error
from dashboard.snippets import pre_html, token_shading_html
from dashboard.state import (
    DEFAULT_CASE,
    DEFAULT_VERSION_LABEL,
    KEY_CASE,
    KEY_KNOWN_BLANKS,
    KEY_LAST_RUN,
    KEY_NEW_BLANKS,
    KEY_NOTICE,
    KEY_PENDING_VERSION,
    KEY_SALIENCE_RUN,
    KEY_TEMPLATE_SOURCE,
    KEY_TEMPLATE_TEXT,
    KEY_TEMPLATE_WIDGET,
    KEY_VALUES,
    KEY_VERSION,
)
from dashboard.template_drafts import template_drafts, template_saved
from dashboard.widgets import token_by_token_button
from promptkit.models.api import LanguageModel
from promptkit.step_figures import step_scores_figure
from promptkit.steps import fork_rows
from promptkit.store import RunRecord, Store
from promptkit.templates import detect_variables, render_template
from promptkit.workflows import completion_steps, record_playground_run, save_version


def new_blanks_warning() -> None:
    """Asks (once) for the new blanks the last Generate stopped for."""
    blanks_to_fill = st.session_state.pop(KEY_NEW_BLANKS, None)
    if blanks_to_fill:
        st.warning(
            f"Your template has new blanks: {', '.join(blanks_to_fill)}. Fill them in under "
            "**Blanks to fill in** and press **Generate** again."
        )


def preselect_version(family: Any) -> str:
    """Makes the version picker of `family` show a version: just saved, shown before, else the default one.

    Args:
        family: the family picked (a stored family with its versions).

    Returns:
        The version picker's widget key.
    """
    by_number = {version.number: version for version in family.versions}
    version_key = f"{KEY_VERSION}::{family.name}"
    pending = st.session_state.pop(KEY_PENDING_VERSION, None)
    if pending in by_number:
        st.session_state[version_key] = pending
    source = st.session_state.get(KEY_TEMPLATE_SOURCE)
    if st.session_state.get(version_key) not in by_number and source and source[0] == family.name and source[1] in by_number:
        st.session_state[version_key] = source[1]  # back from another page: same version, same text
    if st.session_state.get(version_key) not in by_number:
        labelled = [v.number for v in family.versions if v.label == DEFAULT_VERSION_LABEL]
        st.session_state[version_key] = labelled[0] if labelled else list(by_number)[-1]
    return version_key


def load_version_text(family: str, number: int, saved_text: str) -> str:
    """The template text to show for version `number`: kept as it was, or loaded (its draft, else `saved_text`).

    Args:
        family: the family's name.
        number: the version picked.
        saved_text: the version's stored text.

    Returns:
        The text the template text area shows.
    """
    if st.session_state.get(KEY_TEMPLATE_SOURCE) != (family, number):
        st.session_state[KEY_TEMPLATE_SOURCE] = (family, number)
        st.session_state[KEY_TEMPLATE_TEXT] = template_drafts().get((family, number), saved_text)
        st.session_state.pop(KEY_TEMPLATE_WIDGET, None)
        st.session_state.pop(KEY_KNOWN_BLANKS, None)  # Set by template_blanks, to the loaded text's blanks.
    template_text = st.session_state[KEY_TEMPLATE_TEXT]
    if KEY_TEMPLATE_WIDGET not in st.session_state:
        st.session_state[KEY_TEMPLATE_WIDGET] = template_text
    return template_text


def preselect_case(family: str, cases: dict[str, Any]) -> tuple[str, list[str]]:
    """Makes the test-case picker of `family` show a choice: the one picked before, else the default case.

    Args:
        family: the family's name.
        cases: its test cases by id.

    Returns:
        The picker's widget key and its options (typing one's own values first, then the case ids).
    """
    case_options = ["(type my own values)", *cases]
    case_key = f"{KEY_CASE}::{family}"
    if st.session_state.get(case_key) not in case_options:
        st.session_state[case_key] = DEFAULT_CASE if DEFAULT_CASE in cases else case_options[min(1, len(cases))]
    return case_key, case_options


def fill_from_case(cases: dict[str, Any], case_key: str) -> None:
    """Fills the blanks with the values of the case picked under `case_key`; `on_change` callback."""
    case = cases.get(st.session_state[case_key])
    if case is not None:
        for name, value in case.values.items():
            st.session_state[f"pk_var::{name}"] = str(value)


def template_blanks(template_text: str) -> list[Any]:
    """The blanks of `template_text` (none, with an error shown, if it does not parse); the first are known."""
    try:
        variables = detect_variables(template_text)
    except Exception as error:  # noqa: BLE001 - shown, and the text is kept.
        show_error(error)
        variables = []
    st.session_state.setdefault(KEY_KNOWN_BLANKS, {variable.name for variable in variables})
    return variables


def prefill_blanks(variables: list[Any], case: Any) -> None:
    """Gives each blank not drawn yet a value: the one typed before, else `case`'s (or nothing)."""
    for variable in variables:
        widget_key = f"pk_var::{variable.name}"
        if widget_key not in st.session_state:
            saved = st.session_state.get(KEY_VALUES, {}).get(variable.name)
            st.session_state[widget_key] = saved if saved is not None else str(
                case.values.get(variable.name, "") if case else ""
            )


def save_as_new_version(store: Store, family: str, version: Any, *, text: str, note: str) -> None:
    """Saves `text` as a new version of `family` after `version` (unless unchanged) and reruns to show it."""
    with guard():
        if text == version.text:
            st.info("The template is unchanged, so there is nothing new to save.")
        else:
            saved = save_version(store, actor=acting_key(), family=family, parent=version, text=text, note=note)
            template_saved(family, parent=version.number, saved=saved.number)
            st.session_state[KEY_NOTICE] = f"Saved as version {saved.number} of {family}."
            st.rerun()


def generate_and_record(
    model: LanguageModel, store: Store, family: str, version: Any, *, text: str, note: str, settings: Any, case: Any
) -> None:
    """Generates from `text` filled with the blanks' values and records the run (and the edit, if any).

    A blank the user has not seen yet, still empty, stops it first (with a
    warning on the rerun).

    Args:
        model: the loaded model.
        store: the store to record to.
        family: the family's name.
        version: the version `text` was loaded from.
        text: the template text.
        note: the note for a new version, if `text` is an edit.
        settings: the GenerationSettings.
        case: the test case picked, if any.
    """
    with guard():
        variables = detect_variables(text)
        known = st.session_state.setdefault(KEY_KNOWN_BLANKS, set())
        new_blanks = [
            v.name for v in variables if v.name not in known and not st.session_state.get(f"pk_var::{v.name}", "").strip()
        ]
        known.update(v.name for v in variables)
        if new_blanks:
            # Rendering now would fill them with nothing, unasked.
            st.session_state[KEY_NEW_BLANKS] = new_blanks
            st.rerun()
        values = {v.name: st.session_state.get(f"pk_var::{v.name}", "") for v in variables}
        rendered = render_template(text, values)
        # Generated before the edit is saved: a prompt the model refuses
        # (empty, too long) leaves no version behind.
        bar = st.progress(0.0, text=f"Generating with {model.info.name}…")
        try:
            completion = model.generate(
                [rendered.text], settings=settings,
                on_progress=lambda done: bar.progress(done, text=f"Generating with {model.info.name}… {done:.0%}"),
            )[0]
        finally:
            bar.empty()
        run, saved = record_playground_run(
            store, actor=acting_key(), family=family, parent=version, text=text, note=note, model=model.info.name,
            completion=completion, values=values, settings=settings, case=case,
        )
        st.session_state[KEY_LAST_RUN] = run.id
        if saved is not None:
            template_saved(family, parent=version.number, saved=saved)
            st.session_state[KEY_NOTICE] = f"Your edits were saved as version {saved}, and the run is recorded under it."
            st.rerun()


def last_run(store: Store, model: LanguageModel | None) -> None:
    """Shows the Playground's last run, if any: its completion, step scores, prompt and a way to Salience.

    Args:
        store: the store holding the run.
        model: the loaded model (None: no step scores).
    """
    last_run_id = st.session_state.get(KEY_LAST_RUN)
    if last_run_id is None:
        return
    with guard():
        run = store.get_run(run_id=last_run_id)
        st.subheader("Completion")
        st.caption(
            f"Run #{run.id} · {run.family} v{run.version} · {run.model} · stopped because: "
            f"{(run.stop_reason or '').replace('_', ' ')} · "
            f"{run.timings.get('new_tokens', 0):.0f} tokens in {run.timings.get('total_s', 0):.1f} s"
        )
        if not run.completion.strip():
            st.warning("The model produced no text before stopping. Try more new tokens or another stop text.")
        if st.session_state.get("pk_shade", True) and run.tokens:
            st.html(token_shading_html(run.tokens))
            st.caption("Darker = the model was less sure of that word. Hover for its probability.")
        else:
            st.html(pre_html(run.completion))
        if model is not None and run.completion.strip() and st.toggle(
            "Step scores: where could the completion have gone another way?", key="pk_steps",
            help="For every token: how likely it was, how unsure the model was (entropy) and what else it "
            "considered. One more pass over prompt and completion.",
        ):
            _step_scores(run, model)
        with st.expander("The prompt the model saw"):
            st.html(pre_html(run.prompt))
        if st.button("Explain this completion (Salience)", key="pk_to_salience", icon=":material/insights:"):
            st.session_state[KEY_SALIENCE_RUN] = run.id
            st.switch_page("dashboard/views/salience.py")
        if run.completion.strip():
            token_by_token_button(run.id, key="pk_to_tokens")


def _step_scores(run: RunRecord, model: LanguageModel) -> None:
    """Shows each step's probability and entropy and the forks of `run`'s completion, scored by `model`."""
    # The shown run's scores only: a session that steps through many
    # runs keeps one score list, not one per run.
    steps_key = (run.id, model.info.name)
    cached = st.session_state.get("pk_steps_cache")
    if cached is None or cached[0] != steps_key:
        with st.spinner("Scoring every step of the completion…"):
            cached = (steps_key, completion_steps(
                model, prompt=run.prompt, completion=run.completion,
                # Another model's ids name other pieces: its text is tokenized afresh.
                token_ids=run.token_ids() if run.model == model.info.name else None,
            ))
        st.session_state["pk_steps_cache"] = cached
    steps = cached[1]
    if run.model != model.info.name:
        st.caption(f"This run was generated by {run.model}; step scores are computed with {model.info.name}.")
    st.plotly_chart(step_scores_figure(steps), width="stretch", config={"displayModeBar": False}, key="pk_steps_chart")
    rows = fork_rows(steps, run.completion)
    if rows:
        st.markdown("**Forks: where another token was likely too**")
        st.dataframe(
            rows, hide_index=True, width="stretch",
            column_config={"probability": st.column_config.ProgressColumn("probability", min_value=0.0, max_value=1.0, format="%.2f")},
        )
    else:
        st.caption("No forks: every token was the model's clear first choice (p ≥ 0.5).")

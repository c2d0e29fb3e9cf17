"""Widgets several dashboard pages share: generation settings, the review panel, the way to a token-by-token view.

They only adapt promptkit to Streamlit: reading inputs and saving through
the store; what a setting or verdict means is promptkit's.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard.identity import acting_key
from dashboard.messages import guard
from dashboard.snippets import review_markdown
from dashboard.state import KEY_NOTICE, KEY_SALIENCE_RUN, KEY_SALIENCE_VIEW
from promptkit.store import Store
from promptkit.workflows import give_verdict
from promptkit.workflows.explain import TOKENS_VIEW


def settings_widgets(defaults: Any = None, *, key: str) -> Any:
    """Generation-settings inputs; returns GenerationSettings.

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


def review_panel(
    store: Store,
    *,
    reviews: list[Any],
    key: str,
    run_id: int | None = None,
    subject: str | None = None,
    comparison_id: int | None = None,
) -> None:
    """Shows the reviews of one run or comparison and a form to add one.

    Args:
        store: the store to save to.
        reviews: the reviews already given on this subject, oldest first.
        key: distinguishes this panel's widgets from other panels'.
        run_id: the run reviewed, or
        subject: the comparison reviewed (`comparison_subject`), with
        comparison_id: its stored record's id.
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
        submitted = st.form_submit_button("Save review", type="primary")
    if submitted and verdict is None:
        st.error("Pick a verdict (good, bad or unsure) before saving.")
    elif submitted:
        with guard():
            give_verdict(
                store, actor=acting_key(), run_id=run_id, subject=subject, comparison_id=comparison_id,
                verdict=verdict, comment=comment,
            )
            st.session_state[KEY_NOTICE] = f"Review saved for {f'run #{run_id}' if run_id is not None else 'this comparison'}."
            st.session_state[f"pk_review_n::{key}"] = form_number + 1
            st.rerun()


def token_by_token_button(run_id: int, *, key: str) -> None:
    """A button that opens the Salience page's token-by-token view of run `run_id`."""
    if st.button(
        "Explain token by token", key=key, icon=":material/grid_on:",
        help="Every token of the answer, each explained over the prompt and the answer before it (a matrix).",
    ):
        st.session_state[KEY_SALIENCE_RUN] = run_id
        st.session_state[KEY_SALIENCE_VIEW] = TOKENS_VIEW
        st.switch_page("dashboard/views/salience.py")

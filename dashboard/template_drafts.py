"""Unsaved template edits in the Playground, kept per version for the session."""

from __future__ import annotations

import streamlit as st

from dashboard.state import (
    KEY_PENDING_VERSION,
    KEY_TEMPLATE_DRAFTS,
    KEY_TEMPLATE_SOURCE,
    KEY_TEMPLATE_TEXT,
    KEY_TEMPLATE_WIDGET,
)


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

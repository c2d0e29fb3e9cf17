"""History page pieces: a run's link (`?run=ID`), opened from the store or refused with a message."""

from __future__ import annotations

import streamlit as st

from dashboard.messages import show_error
from promptkit.store import RunRecord, Store

RUN_PARAMETER = "run"


def linked_run(store: Store, link: str) -> RunRecord:
    """The run a link names; a malformed or missing one shows a message and stops the page."""
    if not link.isdigit():
        st.error(f"This link names run {link!r}, which is not a run number; check the link you were sent.")
        st.stop()
    try:
        return store.get_run(run_id=int(link))
    except Exception as error:
        show_error(error)
        st.stop()
        raise


def show_run_link(run_id: int) -> None:
    """Shows the open run's link, with Streamlit's copy button, and puts it in the address bar."""
    st.query_params[RUN_PARAMETER] = str(run_id)
    st.session_state["pk_hist_linked"] = str(run_id)
    base = (st.context.url or "").split("?")[0]
    st.caption("Link to this run (copy it with the button at the right):")
    st.code(f"{base}?{RUN_PARAMETER}={run_id}", language=None)

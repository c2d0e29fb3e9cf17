"""Errors and one-shot notices: a short message on the page, never a traceback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import streamlit as st

from dashboard.state import KEY_NOTICE
from promptkit.errors import error_message


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


def notice() -> None:
    """Shows (once) a message left by a previous run of the script."""
    message = st.session_state.pop(KEY_NOTICE, None)
    if message:
        st.success(message)

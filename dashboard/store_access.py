"""The promptkit store: opened once per URL per process, shared by all sessions.

Environment:
    PROMPTKIT_DB / PROMPTKIT_DB_URL: the store (see promptkit.store).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard.messages import show_error


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


def store_and_families() -> tuple[Any, dict[str, Any]]:
    """The store and its template families by name; stops the page with a message if unreadable."""
    try:
        store = get_store()
        return store, {family.name: family for family in store.list_families()}
    except Exception as error:
        show_error(error)
        st.stop()
        raise  # st.stop() raises; this keeps type checkers and readers sure.

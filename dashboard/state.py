"""Session-state keys the dashboard pages share, and the example each page opens with."""

from __future__ import annotations

import streamlit as st

KEY_MODEL_NAME = "pk_model_name"  # name picked in the sidebar
KEY_DTYPE = "pk_dtype"
KEY_FAMILY = "pk_family"  # family picked on any page
KEY_VERSION = "pk_version"  # version number picked in the Playground
KEY_TEMPLATE_TEXT = "pk_template_text"  # the user's (maybe unsaved) template text
KEY_TEMPLATE_SOURCE = "pk_template_source"  # (family, version) the text was loaded from
KEY_TEMPLATE_DRAFTS = "pk_template_drafts"  # {(family, version): unsaved text typed over it}
KEY_TEMPLATE_WIDGET = "pk_template_widget"  # the Playground's template text area
KEY_PENDING_VERSION = "pk_pending_version"  # version the Playground's picker shows on its next run
KEY_CASE = "pk_case"  # test case picked in the Playground
KEY_VALUES = "pk_values"  # dict of variable values typed in the Playground
KEY_NEW_BLANKS = "pk_play_new_blanks"  # new, empty blanks a Playground Generate stopped for
# Blanks the user has had the chance to fill: the loaded version's, and those
# of every Generate so far. A Generate that finds another one still empty
# stops and asks for it first.
KEY_KNOWN_BLANKS = "pk_play_known_blanks"
KEY_LAST_RUN = "pk_last_run"  # id of the Playground's last run
KEY_COMPARE_RESULT = "pk_compare_result"  # last Compare result
KEY_SALIENCE_RUN = "pk_salience_run"  # run id the Salience page opens with
KEY_SALIENCE_RUN_B = "pk_salience_run_b"  # second run for the A/B view
KEY_TUNED_ADAPTER = "pk_tuned_adapter"  # name of the adapter the Tune page shows
KEY_COMPARE_ADAPTER = "pk_compare_adapter"  # adapter the Compare page offers as a column next (from Tune)
KEY_SALIENCE_VIEW = "pk_salience_view"  # "tokens": the Salience page opens token by token
KEY_NOTICE = "pk_notice"  # one-shot message shown after a rerun

DEFAULT_FAMILY = "menu-analysis"
DEFAULT_VERSION_LABEL = "fewshot-mistake"
DEFAULT_CASE = "quiche-cant-eat-eggs"


def keep_shared_state() -> None:
    """Keeps widget values shared between pages (e.g. the family) across page switches.

    Streamlit forgets a widget's value when a run does not draw that widget;
    re-assigning it once per run (in app.py) keeps it.
    """
    for key in (KEY_FAMILY,):
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def preselect_family(names: list[str]) -> None:
    """Makes the family picker show a family of `names`: the one picked before, else the default one.

    Args:
        names: the families in the store, in menu order (at least one).
    """
    if st.session_state.get(KEY_FAMILY) not in names:
        st.session_state[KEY_FAMILY] = DEFAULT_FAMILY if DEFAULT_FAMILY in names else names[0]

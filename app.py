"""promptkit dashboard: `streamlit run app.py`.

Seven pages (Playground, Compare, Tune, Salience, History & review, My reviews, People; in
`dashboard/views/`) share one sidebar with who you are and the model picker;
the model is loaded once per process.
"""

import streamlit as st

from dashboard.identity import arrive
from dashboard.messages import show_error
from dashboard.model_sidebar import model_sidebar
from dashboard.state import keep_shared_state
from dashboard.store_access import get_store
from promptkit.native_log_filter import filter_native_logs

filter_native_logs()  # once per process, before the model's TensorFlow is imported

st.set_page_config(page_title="promptkit", page_icon=":material/science:", layout="wide")

PAGES = [
    st.Page("dashboard/views/playground.py", title="Playground", icon=":material/edit:", default=True),
    st.Page("dashboard/views/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("dashboard/views/tune.py", title="Tune", icon=":material/model_training:"),
    st.Page("dashboard/views/salience.py", title="Salience", icon=":material/insights:"),
    st.Page("dashboard/views/history.py", title="History & review", icon=":material/history:"),
    st.Page("dashboard/views/reviews.py", title="My reviews", icon=":material/rate_review:"),
    st.Page("dashboard/views/people.py", title="People", icon=":material/group:"),
]

try:
    arrive(get_store())  # in team mode, a visitor not signed in sees the sign-in page and nothing else
except Exception as error:  # noqa: BLE001 - no page can work without knowing who acts.
    show_error(error)
    st.stop()
page = st.navigation(PAGES)
keep_shared_state()
with st.sidebar:
    st.caption("Write a prompt template, compare versions, see which parts of the prompt drove the answer.")
model_sidebar()
page.run()

"""promptkit dashboard: `streamlit run app.py`.

Four pages (Playground, Compare, Salience, History & review) share one
sidebar with the model picker; the model is loaded once per process.
"""

import streamlit as st

import ui_glue

ui_glue.ensure_frame()
st.set_page_config(page_title="promptkit", page_icon=":material/science:", layout="wide")

PAGES = [
    st.Page("pages/playground.py", title="Playground", icon=":material/edit:", default=True),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("pages/salience.py", title="Salience", icon=":material/insights:"),
    st.Page("pages/history.py", title="History & review", icon=":material/history:"),
]

page = st.navigation(PAGES)
ui_glue.keep_shared_state()
with st.sidebar:
    st.caption("Write a prompt template, compare versions, see which parts of the prompt drove the answer.")
ui_glue.model_sidebar()
page.run()

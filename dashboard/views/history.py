"""History & review: past runs, verdicts and comments, and the stored comparisons with their HTML reports."""

import pandas as pd
import streamlit as st

from dashboard.history_view import RUN_PARAMETER, linked_run, show_run_link
from dashboard.identity import acting_key
from dashboard.messages import guard, notice, show_error
from dashboard.snippets import comparison_label, pre_html, run_label, run_table_rows, version_label
from dashboard.state import KEY_FAMILY, KEY_SALIENCE_RUN
from dashboard.store_access import store_and_families
from dashboard.widgets import review_panel
from promptkit.workflows import comparison_report

st.title("History & review")
st.caption(
    "Every run is kept here. Filter them, open one, and leave your verdict and a comment. "
    "**Download report** saves one HTML file you can share; it opens offline."
)
notice()

store, families = store_and_families()

ALL = "(all)"
link = st.query_params.get(RUN_PARAMETER)
if link is not None and st.session_state.get("pk_hist_linked") != link:
    linked = linked_run(store, link)  # a message and nothing else for a bad link
    st.session_state.update({"pk_hist_linked": link, "pk_hist_family": linked.family, "pk_hist_run": linked.id})
    for key in (f"pk_hist_version::{linked.family}", f"pk_hist_case::{linked.family}", "pk_hist_model"):
        st.session_state[key] = ALL
columns = st.columns(4)
if st.session_state.get("pk_hist_family") not in (ALL, *families):
    current = st.session_state.get(KEY_FAMILY)
    st.session_state["pk_hist_family"] = current if current in families else ALL
family_name = columns[0].selectbox("Family", [ALL, *families], key="pk_hist_family")
family = families.get(family_name)
version = columns[1].selectbox(
    "Version",
    [ALL, *(v.number for v in family.versions)] if family else [ALL],
    format_func=lambda n: n if n == ALL else version_label(next(v for v in family.versions if v.number == n)),
    key=f"pk_hist_version::{family_name}",
)
case_id = columns[2].selectbox(
    "Test case", [ALL, *(c.id for c in family.cases)] if family else [ALL], key=f"pk_hist_case::{family_name}"
)
try:
    model = columns[3].selectbox("Model", [ALL, *store.list_models()], key="pk_hist_model")
    runs = store.list_runs(
        family=family.name if family else None,
        version=None if version == ALL else version,
        case_id=None if case_id == ALL else case_id,
        model=None if model == ALL else model,
        limit=500,
    )
    reviews = store.list_reviews()
except Exception as error:  # noqa: BLE001
    show_error(error)
    st.stop()

if not runs:
    st.info("No runs match yet. Generate in the Playground or run a comparison, then come back.")
    st.stop()

table = pd.DataFrame(run_table_rows(runs, reviews))
st.dataframe(table, hide_index=True, width="stretch", height=min(400, 40 + 35 * len(runs)))

# --- One run ------------------------------------------------------------------------
runs_by_id = {run.id: run for run in runs}
ids = list(runs_by_id)
if st.session_state.get("pk_hist_run") not in runs_by_id:
    st.session_state["pk_hist_run"] = ids[0]
run_id = st.selectbox(
    "Open a run", ids, format_func=lambda i: run_label(runs_by_id[i]), key="pk_hist_run"
)
run = runs_by_id[run_id]
show_run_link(run.id)
left, right = st.columns([3, 2])
with left:
    st.markdown("**Completion**")
    if run.error:
        st.warning(run.error)
    st.html(pre_html(run.completion or "(empty)"))
    with st.expander("The prompt the model saw"):
        st.html(pre_html(run.prompt))
    if st.button("Explain this run (Salience)", key="pk_hist_to_salience", icon=":material/insights:"):
        st.session_state[KEY_SALIENCE_RUN] = run.id
        st.switch_page("dashboard/views/salience.py")
with right:
    st.markdown("**Reviews**")
    review_panel(
        store, reviews=[review for review in reviews if review.run_id == run.id], key="run", run_id=run.id
    )

# --- Report ---------------------------------------------------------------------------
st.subheader("Comparisons and their reports")
with guard():
    comparisons = {c.id: c for c in store.list_comparisons(family=family.name if family else None, limit=100)}
if not comparisons:
    st.caption("No comparisons stored yet. Run one on the Compare page: it is kept with its results, and its report "
               "can be downloaded here.")
    st.stop()
chosen = st.selectbox(
    "Comparison", list(comparisons), format_func=lambda i: comparison_label(comparisons[i]), key="pk_hist_comparison"
)
st.page_link("dashboard/views/compare.py", label="Open it in Compare", query_params={"comparison": str(chosen)},
             icon=":material/compare_arrows:")
with guard():
    report = comparison_report(store, chosen, actor=acting_key())
    st.download_button(
        "Download report (HTML)",
        data=report.encode("utf-8"),
        file_name=f"promptkit-{comparisons[chosen].family}-comparison-{chosen}.html",
        mime="text/html",
        key="pk_report_download",
        icon=":material/download:",
    )
    st.caption("The report holds the results, the salience stored for its runs, and the reviews of it and its runs.")

"""Compare: 2–4 versions over test cases, side by side, with diffs and checks."""

import pandas as pd
import streamlit as st

from dashboard.messages import guard, notice
from dashboard.model_sidebar import get_model
from dashboard.snippets import compare_summary_rows, diff_html, markdown_escape, pre_html, version_label
from dashboard.state import DEFAULT_CASE, KEY_COMPARE_RESULT, KEY_FAMILY, KEY_SALIENCE_RUN, KEY_SALIENCE_RUN_B, preselect_family
from dashboard.store_access import store_and_families
from dashboard.widgets import review_panel
from promptkit.diff import diff_texts
from promptkit.evaluation import RecordingSink, comparison_subject, line_of_interest, run_matrix
from promptkit.evaluation.figures import summary_figure

st.title("Compare versions")
st.caption(
    "Run several versions of a template on the same test cases in one go. The first version you "
    "pick is the baseline: the other completions show what changed against it "
    "(green = added, red = removed)."
)
notice()

model = get_model()
store, families = store_and_families()

names = list(families)
preselect_family(names)
family_name = st.selectbox("Template family", names, key=KEY_FAMILY)
family = families[family_name]
versions = {version.number: version for version in family.versions}
cases = {case.id: case for case in family.cases}

with st.form("compare_form"):
    left, right = st.columns(2)
    default_versions = list(versions)[:3]
    chosen_versions = left.multiselect(
        "Versions (2 to 4; the first is the baseline)",
        list(versions),
        default=default_versions,
        format_func=lambda n: version_label(versions[n]),
        max_selections=4,
        key=f"pk_cmp_versions::{family_name}",
    )
    default_cases = [DEFAULT_CASE] if DEFAULT_CASE in cases else list(cases)[:1]
    chosen_cases = right.multiselect(
        "Test cases",
        list(cases),
        default=default_cases,
        key=f"pk_cmp_cases::{family_name}",
        help="Each case fills in the template's blanks and says what a good answer looks like.",
    )
    max_new_tokens = st.number_input(
        "Max new tokens per completion",
        value=64,
        step=1,
        key="pk_cmp_max_tokens",
        help="Generation stops earlier at each version's stop text (a blank line for few-shot prompts).",
    )
    run = st.form_submit_button("Run comparison", type="primary")

if run:
    if len(chosen_versions) < 2:
        st.error("Pick at least two versions to compare.")
    elif not chosen_cases:
        st.error("Pick at least one test case.")
    elif max_new_tokens < 1:  # No bounds on the input: a browser would refuse it without a word.
        st.error(f"Max new tokens must be at least 1 (got {max_new_tokens}).")
    elif model is None:
        st.error("No model is loaded; pick one in the sidebar.")
    else:
        with guard():
            total = len(chosen_versions) * len(chosen_cases)
            bar = st.progress(0.0, text=f"Generating {total} completions in batches…")
            sink = RecordingSink(store)
            try:
                result = run_matrix(
                    model,
                    family,
                    versions=[versions[n].as_version().with_max_new_tokens(int(max_new_tokens)) for n in chosen_versions],
                    cases=[cases[c] for c in chosen_cases],
                    progress=lambda done, all_: bar.progress(
                        min(done / max(all_, 1), 1.0), text=f"{int(done)} of {all_} completions done"
                    ),
                    store=sink,
                )
            finally:
                bar.empty()
            st.session_state[KEY_COMPARE_RESULT] = (result, sink.run_ids)

stored = st.session_state.get(KEY_COMPARE_RESULT)
if stored is None or stored[0].family != family_name:
    st.info("Pick versions and test cases, then press **Run comparison**.")
    st.stop()

result, run_ids = stored
line = line_of_interest(family.cases)
baseline = result.versions[0]
names_by_number = {version.number: version_label(version) for version in result.versions}

# --- Summary over cases ------------------------------------------------------------
st.subheader("Summary")
rows = compare_summary_rows(result, line=line)
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
st.caption(
    (f"Each column shows the **{line}** line. " if line else "Each column shows the first line. ")
    + "✓ = meets the test case's expectations, ✗ = does not."
)
with st.expander("Pass rate per version (chart)"):
    st.plotly_chart(summary_figure(result), width="stretch")

# --- Side by side ------------------------------------------------------------------
for case in result.cases:
    st.subheader(f"Case: {case.id}")
    st.caption(" · ".join(f"{name}: {value}" for name, value in case.values.items()))
    base_cell = result.cell(baseline.number, case.id)
    columns = st.columns(len(result.versions))
    for column, version in zip(columns, result.versions):
        cell = result.cell(version.number, case.id)
        with column:
            st.markdown(f"**{names_by_number[version.number]}**" + (" (baseline)" if version is baseline else ""))
            if cell.error:
                st.error(cell.error)
                continue
            if version is baseline:
                st.html(pre_html(cell.completion))
            else:
                st.html(diff_html(diff_texts(base_cell.completion, cell.completion)))
            for check in cell.checks:
                st.caption(markdown_escape(check.caption()), help=f"Check: {check.name}")
            run_id = run_ids.get((version.number, cell.prompt or ""))
            if run_id is not None and st.button(
                "Why? (Salience)", key=f"pk_cmp_sal::{version.number}::{case.id}", help=f"Run #{run_id}", icon=":material/insights:"
            ):
                st.session_state[KEY_SALIENCE_RUN] = run_id
                base_run = run_ids.get((baseline.number, base_cell.prompt or ""))
                st.session_state[KEY_SALIENCE_RUN_B] = base_run if base_run != run_id else None
                st.switch_page("dashboard/views/salience.py")

st.subheader("What changed in the templates")
for version in result.versions[1:]:
    with st.expander(f"{names_by_number[version.number]} vs {names_by_number[baseline.number]}"):
        if version.note:
            st.caption(f"Note: {version.note}")
        st.html(diff_html(diff_texts(baseline.text, version.text)))

st.subheader("Your verdict on this comparison")
st.caption("Did the change fix the problem, for the right reason, on every case? Reviews show up in History & review.")
subject = comparison_subject(family.name, versions=[v.number for v in result.versions], case_ids=[c.id for c in result.cases])
with guard():
    review_panel(store, reviews=store.list_reviews(subject=subject), key="comparison", subject=subject)

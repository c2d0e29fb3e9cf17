"""Compare: 2–4 versions over test cases, side by side: diffs, checks, outcome likelihoods, stability."""

import pandas as pd
import streamlit as st

from dashboard.compare_view import (
    adapter_choice,
    adapter_column,
    cluster_choice,
    opened_comparison,
    run_requested,
    show_cells,
    show_link,
    show_outcomes,
    show_review_tasks,
    show_template_diffs,
    stopped_comparison_notice,
)
from dashboard.identity import acting_key
from dashboard.messages import guard, notice
from dashboard.model_sidebar import get_model
from dashboard.snippets import column_label, compare_summary_rows, version_label
from dashboard.state import DEFAULT_CASE, KEY_COMPARE_RESULT, KEY_FAMILY, preselect_family
from dashboard.store_access import store_and_families
from dashboard.widgets import review_panel
from promptkit.evaluation import comparison_subject, line_of_interest
from promptkit.workflows import ComparisonRequest, comparison_report

st.title("Compare versions")
st.caption(
    "Run several versions of a template on the same test cases in one go. The first version you "
    "pick is the baseline: the other completions show what changed against it "
    "(green = added, red = removed)."
)
notice()

model = get_model()
store, families = store_and_families()

with guard():
    stored = opened_comparison(store)
names = list(families)
if stored is not None and KEY_FAMILY not in st.session_state:
    st.session_state[KEY_FAMILY] = stored.record.family  # a link opens its comparison's family
preselect_family(names)
family_name = st.selectbox("Template family", names, key=KEY_FAMILY)
family = families[family_name]
versions = {version.number: version for version in family.versions}
cases = {case.id: case for case in family.cases}

with st.form("compare_form"):
    left, right = st.columns(2)
    chosen_versions = left.multiselect(
        "Versions (2 to 4; the first is the baseline)",
        list(versions),
        default=list(versions)[:3],
        format_func=lambda n: version_label(versions[n]),
        max_selections=4,
        key=f"pk_cmp_versions::{family_name}",
    )
    chosen_cases = right.multiselect(
        "Test cases",
        list(cases),
        default=[DEFAULT_CASE] if DEFAULT_CASE in cases else list(cases)[:1],
        key=f"pk_cmp_cases::{family_name}",
        help="Each case fills in the template's blanks and says what a good answer looks like.",
    )
    left, right = st.columns(2)
    max_new_tokens = left.number_input(
        "Max new tokens per completion",
        value=64,
        step=1,
        key="pk_cmp_max_tokens",
        help="Generation stops earlier at each version's stop text (a blank line for few-shot prompts).",
    )
    samples = right.number_input(
        "Stability: samples per cell",
        value=0,
        step=1,
        key="pk_cmp_samples",
        help="0: none. K > 0 also samples each cell K times (seeded) and reports how often they agree.",
    )
    adapters = adapter_choice(store, model, family_name)
    if adapters:
        chosen_adapters = st.multiselect(
            "Adapter columns (each: the prompt version it was trained with, plus the adapter)",
            list(adapters),
            format_func=lambda name: f"v{adapters[name].version} + adapter:{name}",
            max_selections=2,
            key=f"pk_cmp_adapters::{family_name}",
            help="LoRA adapters trained on this family's cases (Tune page), on the loaded model.",
        )
    else:
        chosen_adapters = []
    address = cluster_choice()
    run = st.form_submit_button("Run comparison", type="primary")

if run:
    if not chosen_cases:
        st.error("Pick at least one test case.")
    elif model is None:
        st.error("No model is loaded; pick one in the sidebar.")
    else:
        with guard():
            request = ComparisonRequest(
                family=family_name,
                versions=[*chosen_versions, *(adapter_column(adapters[name]) for name in chosen_adapters)],
                cases=tuple(cases[c] for c in chosen_cases),
                max_new_tokens=int(max_new_tokens),
                samples=int(samples),
            )
            bar = st.progress(0.0, text="Generating the completions in batches…")
            # A click reruns the page, which stops this run at its next progress update (one batch step).
            st.button("Stop", key="pk_cmp_stop", on_click=stopped_comparison_notice, icon=":material/stop_circle:")
            try:
                stored = run_requested(store, model, request, address=address, bar=bar)
            finally:
                bar.empty()
            st.session_state[KEY_COMPARE_RESULT] = stored.record.id

if stored is None or stored.record.family != family_name:
    st.query_params.clear()
    st.info("Pick versions and test cases, then press **Run comparison**.")
    st.stop()
with guard():
    result = stored.result
    names = {column: column_label(result, column) for column in result.columns}
    show_link(stored.record.id)

    st.subheader("Summary")
    line = line_of_interest(result.cases)
    st.dataframe(pd.DataFrame(compare_summary_rows(result, line=line)), hide_index=True, width="stretch")
    st.caption(
        (f"Each column shows the **{line}** line. " if line else "Each column shows the first line. ")
        + "✓ = meets the test case's expectations, ✗ = does not."
    )
    show_outcomes(stored)
    st.download_button(
        "Download report (HTML)",
        data=comparison_report(store, stored.record.id, actor=acting_key()).encode("utf-8"),
        file_name=f"promptkit-{family_name}-comparison-{stored.record.id}.html",
        mime="text/html",
        key="pk_cmp_report",
        icon=":material/download:",
    )
    show_cells(stored, names)
    st.subheader("What changed in the templates")
    show_template_diffs(stored)

    st.subheader("Blind review by your team")
    show_review_tasks(store, stored)

    st.subheader("Your verdict on this comparison")
    st.caption("Did the change fix the problem, for the right reason, on every case? Reviews show up in History & review.")
    subject = comparison_subject(family_name, versions=list(stored.record.versions), case_ids=[c.id for c in result.cases])
    review_panel(
        store, reviews=store.list_reviews(comparison_id=stored.record.id), key="comparison", subject=subject,
        comparison_id=stored.record.id,
    )

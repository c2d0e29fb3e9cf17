"""Compare page pieces: where it runs, the link to a comparison, the result's sections, and its review tasks."""

from __future__ import annotations

import itertools
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.identity import acting_key
from dashboard.messages import guard, show_error
from dashboard.model_sidebar import scorer
from dashboard.snippets import cell_likelihoods_caption, diff_html, markdown_escape, pre_html, version_summary_rows
from dashboard.state import KEY_COMPARE_RESULT, KEY_NOTICE, KEY_SALIENCE_RUN, KEY_SALIENCE_RUN_B
from dashboard.widgets import token_by_token_button
from promptkit.diff import diff_texts
from promptkit.evaluation.figures import confusion_figure, matrix_figure, summary_figure
from promptkit.evaluation.ray_engine import RAY_ADDRESS_VARIABLE, RayEngine, ray_address
from promptkit.people import Role
from promptkit.store import Store
from promptkit.workflows import (
    ComparisonRequest,
    StoredComparison,
    load_comparison,
    run_comparison,
    run_comparison_on,
    set_review_task,
)

LINK_PARAMETER = "comparison"


def cluster_choice() -> str | None:
    """Where to run, offered only when a Ray cluster is configured (`PROMPTKIT_RAY_ADDRESS`).

    Returns:
        The cluster's address when the user picks it, else None (this machine).
    """
    address = ray_address()
    if address is None:
        return None
    here = "This machine"
    where = st.radio(
        "Run on", [here, f"Ray cluster ({address})"], horizontal=True, key="pk_cmp_engine",
        help=f"On the cluster ({RAY_ADDRESS_VARIABLE}), workers that each hold the same model share the cells.",
    )
    return None if where == here else address


def run_requested(
    store: Store, model: Any, request: ComparisonRequest, *, address: str | None, bar: Any
) -> StoredComparison:
    """Runs the comparison with the loaded model here, or on the cluster's workers, moving `bar` as cells finish."""
    engine = None if address is None else _cluster_workers(address, model.info.name, model.info.dtype)
    if engine is not None and not engine.live_workers:  # They all died since: start new ones.
        _cluster_workers.clear()
        engine = _cluster_workers(address, model.info.name, model.info.dtype)

    def progress(done: float, total: int) -> None:
        live = "" if engine is None else f" on {engine.live_workers} workers"
        bar.progress(min(done / max(total, 1), 1.0), text=f"{int(done)} of {total} steps done{live}")

    if engine is None:
        return run_comparison(store, model, request, actor=acting_key(), scorer=scorer(model), progress=progress)
    return run_comparison_on(store, engine, request, actor=acting_key(), progress=progress)


@st.cache_resource(show_spinner="Starting the Ray workers; each loads the model…")
def _cluster_workers(address: str, model_name: str, dtype: str) -> RayEngine:
    """Workers holding the model on the cluster, kept for the next comparisons (every session shares them)."""
    return RayEngine(model_name, address=address, dtype=dtype)


def opened_comparison(store: Store) -> StoredComparison | None:
    """The comparison the page shows: the link's (`?comparison=ID`), else the session's last one.

    A link to a comparison that is missing or malformed shows a message and nothing else.
    """
    link = st.query_params.get(LINK_PARAMETER)
    if link is None:
        comparison_id = st.session_state.get(KEY_COMPARE_RESULT)
        return None if comparison_id is None else load_comparison(store, comparison_id)
    if not link.isdigit():
        st.error(f"This link names comparison {link!r}, which is not a comparison number; check the link you were sent.")
        st.stop()
    try:
        return load_comparison(store, int(link))
    except Exception as error:
        show_error(error)
        st.stop()
        raise


def show_link(comparison_id: int) -> None:
    """Shows the comparison's link, with Streamlit's copy button, and puts it in the address bar."""
    st.query_params[LINK_PARAMETER] = str(comparison_id)
    base = (st.context.url or "").split("?")[0]
    st.caption("Link to this comparison (copy it with the button at the right):")
    st.code(f"{base}?{LINK_PARAMETER}={comparison_id}", language=None)


def show_outcomes(stored: StoredComparison) -> None:
    """Per version: pass rate, likelihoods, agreement, classifier metrics; with the charts."""
    result = stored.result
    st.dataframe(pd.DataFrame(version_summary_rows(result)), hide_index=True, width="stretch")
    st.caption(
        "Expected-outcome likelihood: how likely the model finds the right label after the version's prompt "
        "(mean over labelled cases). Agreement: share of the sampled completions reaching the most common outcome."
    )
    charts = st.columns(2)
    charts[0].plotly_chart(summary_figure(result), width="stretch")
    charts[1].plotly_chart(matrix_figure(result), width="stretch")
    labelled = [version for version in result.versions if result.summary[version.number].metrics is not None]
    if labelled:
        with st.expander("Confusion matrices (likeliest label against the labelled answer)"):
            columns = st.columns(len(labelled))
            for column, version in zip(columns, labelled):
                metrics = result.summary[version.number].metrics
                assert metrics is not None
                column.plotly_chart(confusion_figure(metrics, title=f"v{version.number}"), width="stretch")


def show_cells(stored: StoredComparison, names_by_number: dict[int, str]) -> None:
    """Each case's completions side by side, diffs against the baseline, checks, likelihoods, a Salience button."""
    result = stored.result
    baseline = result.versions[0]
    for case in result.cases:
        st.subheader(f"Case: {case.id}")
        st.caption(" · ".join(f"{name}: {value}" for name, value in case.values.items()))
        base_cell = result.cell(baseline.number, case.id)
        for column, version in zip(st.columns(len(result.versions)), result.versions):
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
                if cell.outcome_likelihoods:
                    st.caption(markdown_escape(cell_likelihoods_caption(cell)))
                if cell.samples:
                    st.caption(f"Agreement {cell.agreement:.2f} over {len(cell.samples)} samples")
                _salience_button(stored, version.number, case.id, baseline.number)
                if (run_id := stored.run_id(version.number, case.id)) is not None and cell.completion.strip():
                    token_by_token_button(run_id, key=f"pk_cmp_tokens::{version.number}::{case.id}")


def _salience_button(stored: StoredComparison, version: int, case_id: str, baseline: int) -> None:
    run_id = stored.run_id(version, case_id)
    if run_id is not None and st.button(
        "Why? (Salience)", key=f"pk_cmp_sal::{version}::{case_id}", help=f"Run #{run_id}", icon=":material/insights:"
    ):
        st.session_state[KEY_SALIENCE_RUN] = run_id
        base_run = stored.run_id(baseline, case_id)
        st.session_state[KEY_SALIENCE_RUN_B] = base_run if base_run != run_id else None
        st.switch_page("dashboard/views/salience.py")


def show_template_diffs(stored: StoredComparison, names_by_number: dict[int, str]) -> None:
    """Each version's template against the baseline's, one expander each."""
    baseline, *others = stored.result.versions
    for version in others:
        with st.expander(f"{names_by_number[version.number]} vs {names_by_number[baseline.number]}"):
            if version.note:
                st.caption(f"Note: {version.note}")
            st.html(diff_html(diff_texts(baseline.text, version.text)))


def show_review_tasks(store: Store, stored: StoredComparison) -> None:
    """The comparison's blind review tasks, with their links, and a form for an editor to set one."""
    record = stored.record
    tasks = store.list_review_tasks(comparison_id=record.id)
    for task in tasks:
        pairs = ", ".join(f"v{a} vs v{b}" for a, b in task.pairs)
        asked = ", ".join(task.reviewers) or "every reviewer"
        st.page_link(
            "dashboard/views/reviews.py", label=f"Task #{task.id}: {pairs} over {len(task.cases)} case(s), asking {asked}",
            query_params={"task": str(task.id)}, icon=":material/rate_review:",
        )
    baseline, *others = record.versions
    reviewers = [person for person in store.list_people() if person.role >= Role.REVIEWER]
    with st.expander("Ask reviewers for a blind A/B review of this comparison"):
        with st.form(f"pk_task_form::{record.id}"):
            pairs = st.multiselect(
                "Version pairs", [(a, b) for a, b in itertools.combinations(record.versions, 2)],
                default=[(baseline, other) for other in others], format_func=lambda p: f"v{p[0]} vs v{p[1]}",
                key=f"pk_task_pairs::{record.id}",
            )
            cases = st.multiselect("Cases", [case.id for case in record.cases], default=[case.id for case in record.cases],
                                   key=f"pk_task_cases::{record.id}")
            asked = st.multiselect(
                "Reviewers (none picked: every reviewer)", [person.key for person in reviewers],
                format_func=lambda key: next(p.name for p in reviewers if p.key == key), key=f"pk_task_reviewers::{record.id}",
            )
            submitted = st.form_submit_button("Create review task")
        if submitted:
            with guard():
                task = set_review_task(
                    store, actor=acting_key(), comparison_id=record.id, pairs=pairs, cases=cases, reviewers=asked
                )
                st.session_state[KEY_NOTICE] = f"Review task #{task.id} created; send its link to the reviewers."
                st.rerun()


def stopped_comparison_notice() -> None:
    """Leaves the message shown after the user stopped a running comparison (`on_click` of its Stop button)."""
    st.session_state[KEY_NOTICE] = (
        "Stopped. The cells finished before the stop are stored (their runs are in History & review); the "
        "comparison is kept as unfinished. Run it again, or finish only its missing cells with "
        "`python -m promptkit compare --resume ID` (`python -m promptkit comparisons --json` lists it)."
    )

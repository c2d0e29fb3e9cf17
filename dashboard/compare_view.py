"""Compare page pieces: where it runs, the link to a comparison, the result's sections, and its review tasks."""

from __future__ import annotations

import itertools
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.identity import acting_key
from dashboard.messages import guard, show_error
from dashboard.model_sidebar import adapted_model
from dashboard.snippets import (
    cell_likelihoods_caption,
    column_label,
    diff_html,
    markdown_escape,
    pre_html,
    version_label,
    version_summary_rows,
)
from dashboard.state import KEY_COMPARE_ADAPTER, KEY_COMPARE_RESULT, KEY_NOTICE, KEY_SALIENCE_RUN, KEY_SALIENCE_RUN_B
from dashboard.widgets import token_by_token_button
from promptkit.columns import Column
from promptkit.diff import diff_texts
from promptkit.evaluation.figures import confusion_figure, matrix_figure, summary_figure
from promptkit.evaluation.matrix import LocalEngine
from promptkit.evaluation.ray_engine import RAY_ADDRESS_VARIABLE, RayEngine, ray_address
from promptkit.evaluation.tune_figures import reliability_figure
from promptkit.models.api import LanguageModel
from promptkit.people import Person, Role
from promptkit.store import Store
from promptkit.store.adapters import AdapterRecord
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
    store: Store, model: LanguageModel, request: ComparisonRequest, *, address: str | None, bar: Any
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
        return run_comparison(
            store, model, request, actor=acting_key(), scorer=model.companions.scorer, progress=progress,
            adapter_engines=lambda name: _adapted_engine(model, name),
        )
    return run_comparison_on(store, engine, request, actor=acting_key(), progress=progress)


def _adapted_engine(model: LanguageModel, adapter: str) -> LocalEngine:
    """An adapter column's engine: the process's shared model with that adapter, and its shared scorer."""
    adapted = adapted_model(model, adapter)
    return LocalEngine(adapted, adapted.companions.scorer)


def adapter_choice(store: Store, model: LanguageModel | None, family: str) -> dict[str, AdapterRecord]:
    """The adapters a comparison of `family` can add as columns: trained on its cases, on the loaded model.

    Returns:
        Adapter name → its record, newest first; an adapter the Tune page
        sent the user here with is picked already.
    """
    adapters = {
        record.name: record
        for record in store.list_adapters(family=family)
        if model is not None and record.base_model == model.info.name
    }
    key = f"pk_cmp_adapters::{family}"
    sent = st.session_state.pop(KEY_COMPARE_ADAPTER, None)
    if sent in adapters:
        st.session_state[key] = [*st.session_state.get(key, []), sent]
    return adapters


def adapter_column(record: AdapterRecord) -> str:
    """The written column of an adapter: the prompt version it was trained with, and the adapter."""
    return str(Column(record.version, record.name))


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
    """Per column: pass rate, likelihoods, agreement, classifier metrics and calibration; with the charts."""
    result = stored.result
    st.dataframe(pd.DataFrame(version_summary_rows(result)), hide_index=True, width="stretch")
    st.caption(
        "Expected-outcome likelihood: how likely the model finds the right label after the version's prompt "
        "(mean over labelled cases). Agreement: share of the sampled completions reaching the most common outcome."
    )
    charts = st.columns(2)
    charts[0].plotly_chart(summary_figure(result), width="stretch")
    charts[1].plotly_chart(matrix_figure(result), width="stretch")
    metrics = {column: result.summary[column].metrics for column in result.columns}
    labelled = {column: found for column, found in metrics.items() if found is not None}
    if labelled:
        with st.expander("Confusion matrices (likeliest label against the labelled answer)"):
            for slot, (column, found) in zip(st.columns(len(labelled)), labelled.items()):
                slot.plotly_chart(confusion_figure(found, title=f"v{column}"), width="stretch")
        with st.expander("Calibration (reliability of the label probabilities)"):
            curves = {column_label(result, column): found.calibration for column, found in labelled.items()}
            st.plotly_chart(reliability_figure(curves, title="Reliability over the labelled cases"), width="stretch")
            st.caption(
                "Cases binned by the probability of their likeliest label, against how often that label was right; "
                "the diagonal is perfect calibration. ECE: the case-weighted mean gap."
            )


def show_cells(stored: StoredComparison, names: dict[Column, str]) -> None:
    """Each case's completions side by side, diffs against the baseline, checks, likelihoods, a Salience button."""
    result = stored.result
    baseline = result.columns[0]
    for case in result.cases:
        st.subheader(f"Case: {case.id}")
        st.caption(" · ".join(f"{name}: {value}" for name, value in case.values.items()))
        base_cell = result.cell(baseline, case.id)
        for slot, column in zip(st.columns(len(result.columns)), result.columns):
            cell = result.cell(column, case.id)
            with slot:
                st.markdown(f"**{names[column]}**" + (" (baseline)" if column == baseline else ""))
                if cell.error:
                    st.error(cell.error)
                    continue
                if column == baseline:
                    st.html(pre_html(cell.completion))
                else:
                    st.html(diff_html(diff_texts(base_cell.completion, cell.completion)))
                for check in cell.checks:
                    st.caption(markdown_escape(check.caption()), help=f"Check: {check.name}")
                if cell.outcome_likelihoods:
                    st.caption(markdown_escape(cell_likelihoods_caption(cell)))
                if cell.samples:
                    st.caption(f"Agreement {cell.agreement:.2f} over {len(cell.samples)} samples")
                _salience_button(stored, column, case.id, baseline)
                if (run_id := stored.run_id(column, case.id)) is not None and cell.completion.strip():
                    token_by_token_button(run_id, key=f"pk_cmp_tokens::{column}::{case.id}")


def _salience_button(stored: StoredComparison, column: Column, case_id: str, baseline: Column) -> None:
    run_id = stored.run_id(column, case_id)
    if run_id is not None and st.button(
        "Why? (Salience)", key=f"pk_cmp_sal::{column}::{case_id}", help=f"Run #{run_id}", icon=":material/insights:"
    ):
        st.session_state[KEY_SALIENCE_RUN] = run_id
        base_run = stored.run_id(baseline, case_id)
        st.session_state[KEY_SALIENCE_RUN_B] = base_run if base_run != run_id else None
        st.switch_page("dashboard/views/salience.py")


def show_template_diffs(stored: StoredComparison) -> None:
    """Each version's template against the baseline's, one expander each."""
    baseline, *others = stored.result.versions
    for version in others:
        with st.expander(f"{version_label(version)} vs {version_label(baseline)}"):
            if version.note:
                st.caption(f"Note: {version.note}")
            st.html(diff_html(diff_texts(baseline.text, version.text)))


def show_review_tasks(store: Store, stored: StoredComparison) -> None:
    """The comparison's review tasks, with their links, and forms for an editor to set one (blind A/B, or rubric)."""
    record = stored.record
    tasks = store.list_review_tasks(comparison_id=record.id)
    for task in tasks:
        if task.mode == "rubric":
            what = f"scores of {', '.join(f'v{n}' for n in task.versions)} on {', '.join(c.name for c in task.criteria)}"
        else:
            what = ", ".join(f"v{a} vs v{b}" for a, b in task.pairs)
        asked = ", ".join(task.reviewers) or "every reviewer"
        st.page_link(
            "dashboard/views/reviews.py", label=f"Task #{task.id}: {what} over {len(task.cases)} case(s), asking {asked}",
            query_params={"task": str(task.id)}, icon=":material/rate_review:",
        )
    # Review tasks judge versions: the columns without an adapter.
    plain = [column.version for column in record.columns if column.adapter is None]
    reviewers = [person for person in store.list_people() if person.role >= Role.REVIEWER]
    if len(plain) < 2:
        st.caption("Blind A/B review tasks pair prompt versions without adapters; this comparison has fewer than two.")
    else:
        _pairwise_task_form(store, stored, plain, reviewers)
    if plain:
        _rubric_task_form(store, stored, plain, reviewers)


def _pairwise_task_form(store: Store, stored: StoredComparison, plain: list[int], reviewers: list[Person]) -> None:
    record = stored.record
    baseline, *others = plain
    with st.expander("Ask reviewers for a blind A/B review of this comparison"):
        with st.form(f"pk_task_form::{record.id}"):
            pairs = st.multiselect(
                "Version pairs", [(a, b) for a, b in itertools.combinations(plain, 2)],
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


def _rubric_task_form(store: Store, stored: StoredComparison, plain: list[int], reviewers: list[Person]) -> None:
    record = stored.record
    criteria = store.get_family(name=record.family).review_criteria
    with st.expander("Ask reviewers to score the answers on this family's criteria (1–5)"):
        if criteria:
            st.caption("Reviewers score each answer, without seeing which version wrote it, on: "
                       + "; ".join(f"{c.name}" + (f" ({c.question})" if c.question else "") for c in criteria))
        else:
            st.caption(f"The family {record.family} defines no criteria yet: add `review_criteria:` (name: question) to "
                       "its template file to score answers on them.")
        with st.form(f"pk_rubric_form::{record.id}"):
            versions = st.multiselect("Versions to score", plain, default=plain,
                                      format_func=lambda n: f"v{n}", key=f"pk_rubric_versions::{record.id}")
            cases = st.multiselect("Cases", [case.id for case in record.cases], default=[case.id for case in record.cases],
                                   key=f"pk_rubric_cases::{record.id}")
            asked = st.multiselect(
                "Reviewers (none picked: every reviewer)", [person.key for person in reviewers],
                format_func=lambda key: next(p.name for p in reviewers if p.key == key), key=f"pk_rubric_reviewers::{record.id}",
            )
            submitted = st.form_submit_button("Create rubric task")
        if submitted:
            with guard():
                task = set_review_task(
                    store, actor=acting_key(), comparison_id=record.id, mode="rubric", versions=versions, cases=cases,
                    reviewers=asked,
                )
                st.session_state[KEY_NOTICE] = f"Rubric review task #{task.id} created; send its link to the reviewers."
                st.rerun()


def stopped_comparison_notice() -> None:
    """Leaves the message shown after the user stopped a running comparison (`on_click` of its Stop button)."""
    st.session_state[KEY_NOTICE] = (
        "Stopped. The cells finished before the stop are stored (their runs are in History & review); the "
        "comparison is kept as unfinished. Run it again, or finish only its missing cells with "
        "`python -m promptkit compare --resume ID` (`python -m promptkit comparisons --json` lists it)."
    )

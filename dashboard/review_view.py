"""My reviews page pieces: the task picker with progress, one blind item with a keyboard form, the results."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.identity import acting_key
from dashboard.messages import guard
from dashboard.snippets import pre_html
from dashboard.state import KEY_NOTICE
from promptkit.review.figures import win_rate_figure
from promptkit.store import Store
from promptkit.store.records import ReviewTaskRecord
from promptkit.workflows import ReviewItem, judge_item, task_summary

TASK_PARAMETER = "task"
# What a reviewer types (1–4, then Enter) and what it means; the store keeps the unblinded verdict.
VERDICT_KEYS = {"1": "left", "2": "right", "3": "tie", "4": "both_bad"}
VERDICT_NAMES = {"left": "left is better", "right": "right is better", "tie": "a tie", "both_bad": "both are bad"}


def task_label(task: ReviewTaskRecord, done: int, total: int) -> str:
    """`Task #4 · comparison #2 · v1 vs v2 · 3 of 10 judged`."""
    pairs = ", ".join(f"v{a} vs v{b}" for a, b in task.pairs)
    return f"Task #{task.id} · comparison #{task.comparison_id} · {pairs} · {done} of {total} judged"


def show_item(store: Store, item: ReviewItem, *, position: int, total: int) -> None:
    """One item, blind: the case, two completions as Left and Right, and a form that saves on Enter."""
    st.subheader(f"Item {position} of {total}: case {item.case_id}")
    st.caption(" · ".join(f"{name}: {value}" for name, value in item.values.items()))
    left, right = st.columns(2)
    with left:
        st.markdown("**Left**")
        st.html(pre_html(item.left or "(empty)"))
    with right:
        st.markdown("**Right**")
        st.html(pre_html(item.right or "(empty)"))
    key = f"{item.task_id}::{item.key}"
    with st.form(f"pk_judge::{key}", clear_on_submit=True, enter_to_submit=True):
        typed = st.text_input(
            "Your verdict: 1 left is better · 2 right is better · 3 tie · 4 both are bad",
            key=f"pk_judge_verdict::{key}",
            max_chars=1,
            help="Type the number and press Enter: the verdict is saved and the next item opens.",
        )
        comment = st.text_input("Comment (optional)", key=f"pk_judge_comment::{key}", value=item.comment)
        submitted = st.form_submit_button("Save and go on", type="primary")
    if submitted:
        verdict = VERDICT_KEYS.get(typed.strip())
        if verdict is None:
            st.error(f"Type 1, 2, 3 or 4 for your verdict (got {typed.strip() or 'nothing'!r}); nothing was saved.")
            return
        with guard():
            judge_item(
                store, actor=acting_key(), task_id=item.task_id, case_id=item.case_id, pair=item.pair,
                verdict=verdict, comment=comment,
            )
            st.session_state[KEY_NOTICE] = f"Saved: {VERDICT_NAMES[verdict]} (case {item.case_id})."
            st.rerun()


def show_results(store: Store, task_id: int) -> None:
    """The task's results: win rates with intervals, agreement, progress per reviewer, disputed items first."""
    summary = task_summary(store, actor=acting_key(), task_id=task_id)
    st.plotly_chart(win_rate_figure(summary), width="stretch")
    agreement = summary["agreement"]
    alpha = agreement["krippendorff_alpha"]
    st.caption(
        f"Agreement between reviewers (Krippendorff's α, nominal): {'not defined yet' if alpha is None else f'{alpha:.2f}'}"
        f" over {agreement['n_items']} items and {agreement['n_reviewers']} reviewer(s). "
        "1 is full agreement, 0 no better than chance."
    )
    rows = [
        {
            "Pair": f"v{p['a']} vs v{p['b']}", "First wins": p["wins_a"], "Second wins": p["wins_b"], "Ties": p["ties"],
            "Both bad": p["both_bad"], "p (sign test)": "–" if p["p_value"] is None else f"{p['p_value']:.3f}",
        }
        for p in summary["pairs"]
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.dataframe(pd.DataFrame(summary["reviewers"]), hide_index=True, width="stretch")
    if summary["disputed"]:
        st.markdown("**Disputed items** (reviewers disagree)")
        for item in summary["disputed"]:
            verdicts = ", ".join(f"{name}: {verdict}" for name, verdict in item["verdicts"].items())
            st.caption(f"{item['case']} · v{item['a']} vs v{item['b']} — {verdicts}")

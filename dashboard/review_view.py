"""My reviews page pieces: the task picker with progress, one blind item with a keyboard form, the results."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard.identity import acting_key
from dashboard.messages import guard
from dashboard.snippets import pre_html
from dashboard.state import KEY_NOTICE
from promptkit.people import Role
from promptkit.review.figures import rubric_figure, win_rate_figure
from promptkit.store import Store
from promptkit.store.records import ReviewTaskRecord
from promptkit.workflows import (
    ReviewItem,
    RubricItem,
    case_from_judgements,
    judge_item,
    review_items,
    rubric_items,
    score_item,
    task_summary,
)

TASK_PARAMETER = "task"
# What a reviewer types (1–4, then Enter) and what it means; the store keeps the unblinded verdict.
VERDICT_KEYS = {"1": "left", "2": "right", "3": "tie", "4": "both_bad"}
VERDICT_NAMES = {"left": "left is better", "right": "right is better", "tie": "a tie", "both_bad": "both are bad"}
SCORE_KEYS = ("1", "2", "3", "4", "5")  # what a reviewer types for a rubric score


def task_label(task: ReviewTaskRecord, done: int, total: int) -> str:
    """`Task #4 · comparison #2 · v1 vs v2 · 3 of 10 judged`, or `… · scores on tone, reasoning · …`."""
    if task.mode == "rubric":
        what = "scores on " + ", ".join(criterion.name for criterion in task.criteria)
    else:
        what = ", ".join(f"v{a} vs v{b}" for a, b in task.pairs)
    return f"Task #{task.id} · comparison #{task.comparison_id} · {what} · {done} of {total} judged"


def task_items(store: Store, task: ReviewTaskRecord) -> list[ReviewItem] | list[RubricItem]:
    """The task's items as the acting person sees them (blind pairs, or single completions to score)."""
    if task.mode == "rubric":
        return rubric_items(store, actor=acting_key(), task_id=task.id)
    return review_items(store, actor=acting_key(), task_id=task.id)


def is_judged(item: ReviewItem | RubricItem) -> bool:
    """Whether the acting person has judged this item already."""
    return item.scores is not None if isinstance(item, RubricItem) else item.verdict is not None


def may_see_results_early(store: Store) -> bool:
    """Whether the acting person sees a task's results before judging it all (editors do; the library checks it too)."""
    person = store.person(acting_key())
    return person is not None and person.role >= Role.EDITOR


def show_next_item(store: Store, item: ReviewItem | RubricItem, *, position: int, total: int) -> None:
    """The next item to judge, with the form its task's mode asks for."""
    if isinstance(item, RubricItem):
        show_rubric_item(store, item, position=position, total=total)
    else:
        show_item(store, item, position=position, total=total)


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


def show_rubric_item(store: Store, item: RubricItem, *, position: int, total: int) -> None:
    """One completion, its version hidden, and a form: a score from 1 to 5 per criterion; Enter saves and goes on."""
    st.subheader(f"Item {position} of {total}: case {item.case_id}")
    st.caption(" · ".join(f"{name}: {value}" for name, value in item.values.items()))
    st.markdown("**The answer to score**")
    st.html(pre_html(item.completion or "(empty)"))
    key = f"{item.task_id}::{item.key}"
    with st.form(f"pk_score::{key}", clear_on_submit=True, enter_to_submit=True):
        st.caption("Score each point from 1 (poor) to 5 (very good): type the number, Tab to the next, Enter to save.")
        typed = {
            criterion.name: st.text_input(
                f"{criterion.name} (1–5)" + (f": {criterion.question}" if criterion.question else ""),
                key=f"pk_score_value::{key}::{criterion.name}",
                max_chars=1,
            )
            for criterion in item.criteria
        }
        comment = st.text_input("Comment (optional)", key=f"pk_score_comment::{key}", value=item.comment)
        submitted = st.form_submit_button("Save and go on", type="primary")
    if submitted:
        missing = [name for name, value in typed.items() if value.strip() not in SCORE_KEYS]
        if missing:
            st.error(f"Give a score from 1 to 5 for: {', '.join(missing)}. Nothing was saved.")
            return
        with guard():
            score_item(
                store, actor=acting_key(), task_id=item.task_id, case_id=item.case_id, version=item.version,
                scores={name: int(value) for name, value in typed.items()}, comment=comment,
            )
            st.session_state[KEY_NOTICE] = f"Saved your scores (case {item.case_id})."
            st.rerun()


def show_results(store: Store, task_id: int) -> None:
    """The task's results: pairwise win rates or rubric scores, agreement, progress per reviewer, disputed items first."""
    summary = task_summary(store, actor=acting_key(), task_id=task_id)
    if summary["mode"] == "rubric":
        _show_rubric_results(summary)
        return
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
    show_make_test_case(store, task_id, summary)


def show_make_test_case(store: Store, task_id: int, summary: dict[str, Any]) -> None:
    """For editors: make a judged item's agreed answer the expected outcome of its test case."""
    judged = sorted({(j.case_id, (j.version_a, j.version_b)) for j in store.list_judgements(task_id)})
    if not judged:
        return
    disputed = {(item["case"], (item["a"], item["b"])) for item in summary["disputed"]}
    st.markdown("**Make it a test case** (editors)")
    st.caption(
        "When the reviewers agree which answer is better, its label becomes what the test case expects, "
        "so the next comparison checks it."
    )
    with st.form(f"pk_case_from_task::{task_id}"):
        chosen = st.selectbox(
            "Judged item",
            judged,
            format_func=lambda item: f"{item[0]} · v{item[1][0]} vs v{item[1][1]}" + (" (disputed)" if item in disputed else ""),
            key=f"pk_case_item::{task_id}",
        )
        submitted = st.form_submit_button("Make it a test case")
    if submitted and chosen is not None:
        with guard():
            case_id, pair = chosen
            family = store.get_comparison(summary["comparison_id"]).family
            known = {case.id for case in store.get_family(name=family).cases}
            case = case_from_judgements(store, actor=acting_key(), task_id=task_id, case_id=case_id, pair=pair)
            expect = case.expect
            labels = " or ".join(f"'{label}'" for label in (expect.labels if expect else ()))
            where = f" on the line starting '{expect.line}'" if expect and expect.line else ""
            done = "updated" if case.id in known else "added to the family"
            st.success(f"Test case '{case.id}' of {family} {done}: it now expects {labels}{where}. "
                       "The next comparison checks it.")


def _show_rubric_results(summary: dict[str, Any]) -> None:
    st.plotly_chart(rubric_figure(summary), width="stretch")
    agreement = summary["agreement"]
    alpha = agreement["krippendorff_alpha"]
    st.caption(
        f"Agreement between reviewers (Krippendorff's α, ordinal): {'not defined yet' if alpha is None else f'{alpha:.2f}'}"
        f" over {agreement['n_items']} items and {agreement['n_reviewers']} reviewer(s). "
        "1 is full agreement, 0 no better than chance."
    )
    rows = [
        {"Criterion": criterion, **{
            version: "–" if score["mean"] is None else f"{score['mean']:.2f} ({score['n']})"
            for version, score in by_version.items()
        }}
        for criterion, by_version in summary["rubric"].items()
    ]
    st.caption("Mean score per version (number of scores in brackets):")
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.dataframe(pd.DataFrame(summary["reviewers"]), hide_index=True, width="stretch")
    if summary["disputed"]:
        st.markdown("**Disputed items** (scores 2 or more apart)")
        for item in summary["disputed"]:
            scores = "; ".join(
                f"{name}: " + ", ".join(f"{criterion} {score}" for criterion, score in given.items())
                for name, given in item["scores"].items()
            )
            st.caption(f"{item['case']} · v{item['version']} — {', '.join(item['spread'])} — {scores}")

"""My reviews: the review tasks asking me, one item at a time from the keyboard, then everyone's results."""

import streamlit as st

from dashboard.identity import acting_key
from dashboard.messages import guard, notice, show_error
from dashboard.review_view import (
    TASK_PARAMETER,
    is_judged,
    may_see_results_early,
    show_next_item,
    show_results,
    task_items,
    task_label,
)
from dashboard.store_access import store_and_families

st.title("My reviews")
st.caption(
    "Judge the answers of different prompt versions without knowing which version wrote which: pick the better of "
    "two (type 1–4), or score one answer from 1 to 5 on each point. Press Enter: it is saved and the next item opens."
)
notice()
store, _ = store_and_families()

link = st.query_params.get(TASK_PARAMETER)
with guard():
    tasks = {task.id: task for task in store.list_review_tasks(reviewer=acting_key())}
if link is not None and (not link.isdigit() or int(link) not in tasks):
    st.error(f"This link names review task {link!r}, which does not exist or does not ask you; check the link you were sent.")
    st.stop()
if not tasks:
    st.info("No review task asks you yet. An editor sets one from a comparison on the Compare page.")
    st.stop()

try:
    items = {task_id: task_items(store, task) for task_id, task in tasks.items()}
except Exception as error:  # noqa: BLE001 - a refusal or a store error becomes a message.
    show_error(error)
    st.stop()
judged = {task_id: sum(is_judged(item) for item in its_items) for task_id, its_items in items.items()}
chosen = st.selectbox(
    "Review task",
    list(tasks),
    index=list(tasks).index(int(link)) if link is not None else 0,
    format_func=lambda i: task_label(tasks[i], judged[i], len(items[i])),
    # The browser keeps showing a picked option's old label when only its text changes; a new key (the
    # progress) redraws it. The task stays picked: its number is in the page's address.
    key=f"pk_review_task::{sum(judged.values())}",
)
st.query_params[TASK_PARAMETER] = str(chosen)
st.caption("Link to this task (copy it with the button at the right):")
st.code(f"{(st.context.url or '').split('?')[0]}?{TASK_PARAMETER}={chosen}", language=None)

mine = items[chosen]
if not mine:
    st.info("Every answer this task would show failed to run, so there is nothing to judge here.")
    st.stop()
open_items = [item for item in mine if not is_judged(item)]
st.progress(1 - len(open_items) / len(mine), text=f"{len(mine) - len(open_items)} of {len(mine)} judged")
if open_items:
    show_next_item(store, open_items[0], position=len(mine) - len(open_items) + 1, total=len(mine))
    if may_see_results_early(store):
        with st.expander("Results so far (editors see them at any time)"), guard():
            show_results(store, chosen)
else:
    st.success("You have judged every item of this task. Here is what everyone said so far.")
    with guard():
        show_results(store, chosen)

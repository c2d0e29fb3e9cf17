"""People: who uses this dashboard and their roles; an admin changes a role here and sees every change made."""

import pandas as pd
import streamlit as st

from dashboard.identity import acting_key
from dashboard.messages import guard, notice
from dashboard.state import KEY_NOTICE
from dashboard.store_access import store_and_families
from promptkit.people import Role

st.title("People")
st.caption(
    "Viewers read; reviewers also judge and comment; editors also change templates and cases, run comparisons and "
    "set review tasks; admins also give roles. A change holds from the person's next action."
)
notice()
store, _ = store_and_families()

with guard():
    people = store.list_people()
    st.dataframe(
        pd.DataFrame([{"Name": p.name, "Signs in as": p.key, "Role": str(p.role)} for p in people]),
        hide_index=True, width="stretch",
    )
    with st.form("pk_role_form"):
        left, right = st.columns(2)
        key = left.selectbox("Person", [p.key for p in people], format_func=lambda k: next(p.name for p in people if p.key == k))
        role = right.selectbox("New role", list(Role), format_func=str, index=int(Role.REVIEWER) - 1)
        submitted = st.form_submit_button("Change role", type="primary")
    if submitted:
        changed = store.set_role(actor=acting_key(), key=key, role=role)
        st.session_state[KEY_NOTICE] = f"{changed.name} now has the {changed.role} role."
        st.rerun()

    me = store.person(acting_key())
    if me is not None and me.role >= Role.ADMIN:
        st.subheader("Role changes")
        st.caption("Who changed whose role, and when (newest first). Only admins see this list.")
        names = {p.key: p.name for p in people}
        changes = store.list_role_changes(actor=acting_key())
        if changes:
            st.dataframe(
                pd.DataFrame([
                    {"When (UTC)": c.changed_at.strftime("%Y-%m-%d %H:%M"), "Changed by": names.get(c.changed_by, c.changed_by),
                     "Person": names.get(c.person, c.person), "From": c.old_role, "To": c.new_role}
                    for c in changes
                ]),
                hide_index=True, width="stretch", key="pk_role_changes",
            )
        else:
            st.caption("No role has been changed yet.")

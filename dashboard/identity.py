"""Who is using the dashboard: a name asked once (local mode) or a signed-in person (team mode).

In team mode (`PROMPTKIT_MODE=team`) a visitor who is not signed in gets the
sign-in page and nothing else: the app stops before any page, sidebar or
model is drawn. Sign-in is Streamlit's OpenID Connect (`st.login`), set up in
`.streamlit/secrets.toml` `[auth]`.

In local mode the browser remembers the name typed in the sidebar in a
cookie, so a new tab or visit of the same browser starts with it. Streamlit
reads a session's cookies (`st.context.cookies`, as sent when the session
opened) but has no call to set one; a line of JavaScript run by `st.html`
in the page itself sets it.
"""

from __future__ import annotations

import getpass
import json
from urllib.parse import unquote

import streamlit as st

from promptkit.people import AccessPolicy, Person
from promptkit.store import Store

KEY_PERSON_NAME = "pk_person_name"  # the name typed in the sidebar (local mode)
KEY_PERSON = "pk_person"  # the acting Person, as of their arrival this session
KEY_REMEMBERED_NAME = "pk_remembered_name"  # the name the browser's cookie holds, as far as this session knows
NAME_COOKIE = "promptkit_name"
NAME_COOKIE_DAYS = 400  # browsers cap a cookie's life at about 400 days


def arrive(store: Store) -> Person:
    """Finds out who is here, records their visit, and returns them; in team mode, signs them in first.

    Call it once per script run, before any page is drawn.
    """
    policy = AccessPolicy.from_environment()
    person = _signed_in(store, policy) if policy.team else _named(store, policy)
    st.session_state[KEY_PERSON] = person
    return person


def acting_key() -> str:
    """The key of the person acting in this session (what the library checks roles against)."""
    person: Person = st.session_state[KEY_PERSON]
    return person.key


def _signed_in(store: Store, policy: AccessPolicy) -> Person:
    if not st.user.is_logged_in:
        st.title("promptkit")
        st.write("Sign in to see your team's prompt templates, comparisons and reviews.")
        st.button("Sign in", type="primary", on_click=st.login, icon=":material/login:")
        st.stop()
    email = str(st.user.get("email") or "").strip().lower()
    if not email:
        st.error("Your sign-in gave no e-mail address, which promptkit needs to know who you are. Ask your admin to "
                 "let the provider share it (the 'email' scope).")
        st.button("Sign out", on_click=st.logout)
        st.stop()
    person = _arrived(store, key=email, name=str(st.user.get("name") or email), policy=policy)
    with st.sidebar:
        st.caption(f"Signed in as **{person.name}** ({email}) · {person.role}")
        st.button("Sign out", on_click=st.logout, icon=":material/logout:")
    return person


def _named(store: Store, policy: AccessPolicy) -> Person:
    if KEY_REMEMBERED_NAME not in st.session_state:
        cookie = st.context.cookies.get(NAME_COOKIE)
        # A session without a browser behind it (Streamlit's AppTest) has stand-in cookies that are not text.
        st.session_state[KEY_REMEMBERED_NAME] = unquote(cookie).strip() if isinstance(cookie, str) else ""
    if KEY_PERSON_NAME not in st.session_state:
        st.session_state[KEY_PERSON_NAME] = st.session_state[KEY_REMEMBERED_NAME] or getpass.getuser()
    with st.sidebar:
        name = st.text_input(
            "Your name", key=KEY_PERSON_NAME,
            help="Kept with the versions you save, the comparisons you run and your reviews. This browser remembers it.",
        )
        name = name.strip() or getpass.getuser()
        remembered = st.session_state[KEY_REMEMBERED_NAME]
        # The OS user's name is the default anyway; only a name someone typed is worth a cookie.
        if name != remembered and (remembered or name != getpass.getuser()):
            _remember_name(name)
    return _arrived(store, key=name, name=name, policy=policy)


def _remember_name(name: str) -> None:
    """Sets the browser's name cookie (local mode only: a signed-in person's name comes from their sign-in)."""
    # JSON text is a JavaScript string literal; "<" escaped, the name cannot close the script element.
    literal = json.dumps(name).replace("<", "\\u003c")
    st.html(
        f"<script>document.cookie = '{NAME_COOKIE}=' + encodeURIComponent({literal}) + "
        f"'; path=/; max-age={NAME_COOKIE_DAYS * 24 * 3600}; SameSite=Lax';</script>",
        unsafe_allow_javascript=True,
    )
    st.session_state[KEY_REMEMBERED_NAME] = name


def _arrived(store: Store, *, key: str, name: str, policy: AccessPolicy) -> Person:
    """The person's record, written once per session and name (their role is read afresh by every action)."""
    known: Person | None = st.session_state.get(KEY_PERSON)
    if known is not None and known.key == key and known.name == name:
        return known
    return store.arrive(key=key, name=name, policy=policy)

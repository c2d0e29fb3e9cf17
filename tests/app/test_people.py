"""People page, and team mode under AppTest: roles listed; an admin's change holds; a viewer's is refused by the library."""

from __future__ import annotations

from apphelpers import APP, button, no_errors
from streamlit.testing.v1 import AppTest

from promptkit.people import Role
from promptkit.store import Store

PEOPLE = "dashboard/views/people.py"


def _as(email: str | None, name: str = "") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.user = {"email": email, "name": name, "is_logged_in": True} if email else {"is_logged_in": False}
    at.switch_page(PEOPLE)
    return at.run()


def _change_role(at: AppTest, key: str, role: Role) -> AppTest:
    next(w for w in at.selectbox if w.label == "Person").set_value(key)
    next(w for w in at.selectbox if w.label == "New role").set_value(role)
    button(at, "Change role").click()
    return at.run()


def test_in_team_mode_an_admin_gives_roles_and_a_viewer_cannot(small_library, monkeypatch):
    monkeypatch.setenv("PROMPTKIT_MODE", "team")
    monkeypatch.setenv("PROMPTKIT_ADMINS", "ann@x.org")
    viewer = _as("bo@x.org", "Bo")
    no_errors(viewer)
    assert any("Signed in as **Bo** (bo@x.org) · viewer" in item.value for item in viewer.sidebar.caption)
    refused = _change_role(viewer, "bo@x.org", Role.ADMIN)
    assert "assign roles you need the admin role, but Bo is a viewer" in refused.error[0].value
    admin = _as("ann@x.org", "Ann")
    admin = _change_role(admin, "bo@x.org", Role.EDITOR)
    no_errors(admin)
    assert any("Bo now has the editor role" in item.value for item in admin.success)
    with Store.open() as store:
        assert store.person("bo@x.org").role is Role.EDITOR and store.person("ann@x.org").role is Role.ADMIN


def test_in_team_mode_a_visitor_not_signed_in_gets_the_sign_in_page_and_nothing_else(small_library, monkeypatch):
    monkeypatch.setenv("PROMPTKIT_MODE", "team")
    for page in (PEOPLE, "dashboard/views/compare.py", "dashboard/views/history.py"):
        at = AppTest.from_file(APP, default_timeout=300)
        at.user = {"is_logged_in": False}
        at.switch_page(page)
        at.run()
        assert [item.label for item in at.button] == ["Sign in"]
        shown = " ".join(str(item.value) for kind in ("title", "markdown", "caption", "text") for item in at.get(kind))
        assert "tiny-menu" not in shown and "tiny:gemma3" not in shown and not at.dataframe and not at.sidebar.children
    with Store.open() as store:
        assert store.list_people() == []  # nobody arrived


def test_admins_see_who_changed_whose_role_and_others_do_not(small_library, monkeypatch):
    monkeypatch.setenv("PROMPTKIT_MODE", "team")
    monkeypatch.setenv("PROMPTKIT_ADMINS", "ann@x.org")
    viewer = _as("bo@x.org", "Bo")
    assert "Role changes" not in [item.value for item in viewer.subheader]
    admin = _as("ann@x.org", "Ann")
    assert any("No role has been changed yet" in item.value for item in admin.caption)
    admin = _change_role(admin, "bo@x.org", Role.EDITOR)
    admin = _change_role(admin, "bo@x.org", Role.REVIEWER)
    no_errors(admin)
    assert "Role changes" in [item.value for item in admin.subheader]
    table = next(frame.value for frame in admin.dataframe if list(frame.value.columns)[1:] == ["Changed by", "Person", "From", "To"])
    assert table[["Changed by", "Person", "From", "To"]].values.tolist() == [
        ["Ann", "Bo", "editor", "reviewer"], ["Ann", "Bo", "viewer", "editor"],
    ]
    viewer_again = _as("bo@x.org", "Bo")  # a reviewer now: still not an admin
    assert "Role changes" not in [item.value for item in viewer_again.subheader] and len(viewer_again.dataframe) == 1

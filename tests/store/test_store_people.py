"""People and roles in the store, on SQLite and PostgreSQL: first roles, admins, role changes, the last admin."""

from __future__ import annotations

import pytest

from promptkit.errors import PromptkitError, StoreError
from promptkit.people import AccessPolicy, PermissionDenied, Role
from promptkit.store import Store

TEAM = AccessPolicy(team=True, admins=frozenset({"ann@example.org"}), default_role=Role.VIEWER)


def test_local_mode_gives_every_role_and_team_mode_the_configured_ones(store: Store) -> None:
    assert store.arrive(key="me", name="Me", policy=AccessPolicy()).role is Role.ADMIN
    assert store.arrive(key="ANN@example.org", name="Ann", policy=TEAM).role is Role.ADMIN  # e-mails match in any case
    assert store.arrive(key="bo@example.org", name="Bo", policy=TEAM).role is Role.VIEWER
    reviewers_by_default = AccessPolicy(team=True, default_role=Role.REVIEWER)
    assert store.arrive(key="cy@example.org", name="Cy", policy=reviewers_by_default).role is Role.REVIEWER
    assert store.arrive(key="bo@example.org", name="Bo B.", policy=reviewers_by_default).role is Role.VIEWER  # kept
    assert [(p.name, p.role) for p in store.list_people()] == [
        ("Ann", Role.ADMIN), ("Bo B.", Role.VIEWER), ("Cy", Role.REVIEWER), ("Me", Role.ADMIN),
    ]


def test_only_an_admin_assigns_roles_and_the_last_admin_stays(store: Store) -> None:
    store.arrive(key="ann@example.org", name="Ann", policy=TEAM)
    store.arrive(key="bo@example.org", name="Bo", policy=TEAM)
    with pytest.raises(PermissionDenied, match=r"assign roles you need the admin role, but Bo is a viewer\. Ask ann@example\.org"):
        store.set_role(actor="bo@example.org", key="bo@example.org", role=Role.ADMIN)
    assert store.person("bo@example.org").role is Role.VIEWER
    with pytest.raises(StoreError, match="Ann is the last admin"):
        store.set_role(actor="ann@example.org", key="ann@example.org", role=Role.EDITOR)
    assert store.set_role(actor="ann@example.org", key="bo@example.org", role=Role.EDITOR).role is Role.EDITOR
    with pytest.raises(StoreError, match=r"nobody with the key 'zed@example\.org'"):
        store.set_role(actor="ann@example.org", key="zed@example.org", role=Role.EDITOR)


def test_environment_configures_the_policy() -> None:
    policy = AccessPolicy.from_environment(
        {"PROMPTKIT_MODE": "team", "PROMPTKIT_ADMINS": " Ann@Example.org, b@x.org ", "PROMPTKIT_DEFAULT_ROLE": "Reviewer"}
    )
    assert policy == AccessPolicy(team=True, admins=frozenset({"ann@example.org", "b@x.org"}), default_role=Role.REVIEWER)
    assert AccessPolicy.from_environment({}) == AccessPolicy()
    with pytest.raises(PromptkitError, match="PROMPTKIT_MODE must be 'local' or 'team', not 'teams'"):
        AccessPolicy.from_environment({"PROMPTKIT_MODE": "teams"})
    with pytest.raises(PromptkitError, match="no role 'boss'; the roles are viewer, reviewer, editor, admin"):
        AccessPolicy.from_environment({"PROMPTKIT_DEFAULT_ROLE": "boss"})


def test_every_role_change_is_recorded_with_who_from_what_to_what_and_when(store: Store) -> None:
    store.arrive(key="ann@example.org", name="Ann", policy=TEAM)
    store.arrive(key="bo@example.org", name="Bo", policy=TEAM)
    assert store.list_role_changes(actor="ann@example.org") == []  # arriving with a first role is not a change
    store.set_role(actor="ann@example.org", key="bo@example.org", role=Role.EDITOR)
    store.set_role(actor="ann@example.org", key="bo@example.org", role=Role.EDITOR)  # no change, nothing recorded
    store.set_role(actor="ann@example.org", key="bo@example.org", role=Role.REVIEWER)
    with pytest.raises(StoreError, match="last admin"):
        store.set_role(actor="ann@example.org", key="ann@example.org", role=Role.VIEWER)
    store.set_role(actor="ann@example.org", key="bo@example.org", role=Role.VIEWER)
    store.arrive(key="bo@example.org", name="Bo", policy=AccessPolicy(team=True, admins=frozenset({"bo@example.org"})))
    changes = store.list_role_changes(actor="ann@example.org")
    assert [(c.person, c.changed_by, c.old_role, c.new_role) for c in changes] == [
        ("bo@example.org", "promptkit", "viewer", "admin"),  # named in PROMPTKIT_ADMINS
        ("bo@example.org", "ann@example.org", "reviewer", "viewer"),
        ("bo@example.org", "ann@example.org", "editor", "reviewer"),
        ("bo@example.org", "ann@example.org", "viewer", "editor"),
    ]
    assert all(c.changed_at.tzinfo is not None for c in changes)
    assert [c.changed_at for c in changes] == sorted((c.changed_at for c in changes), reverse=True)
    store.arrive(key="cy@example.org", name="Cy", policy=TEAM)
    with pytest.raises(PermissionDenied, match="see who changed whose role you need the admin role, but Cy is a viewer"):
        store.list_role_changes(actor="cy@example.org")

"""The Playground's jobs: an edit is saved as a version before its run, under the editor's name; roles are checked."""

from __future__ import annotations

import pytest

from promptkit.generation import Completion, GenerationSettings, StopReason
from promptkit.people import AccessPolicy, PermissionDenied, Role
from promptkit.templates import TestCase
from promptkit.workflows import give_verdict, record_playground_run, save_version

COMPLETION = Completion("Dish: Soup\nRecommendation:", " Avoid.", (), StopReason.STOP_SEQUENCE, {"total_s": 0.1})


def test_a_playground_run_saves_an_edit_as_a_version_first(mini_store) -> None:
    case = TestCase("soup", {"dish": "Soup"})
    parent = mini_store.get_version(family="mini", version=1)
    options = {"actor": "ada", "family": "mini", "model": "m", "completion": COMPLETION, "settings": GenerationSettings(),
               "case": case}
    run, saved = record_playground_run(mini_store, parent=parent, text=parent.text, note="", values={"dish": "Soup"}, **options)
    assert saved is None and (run.version, run.case_id) == (1, "soup")
    run, saved = record_playground_run(
        mini_store, parent=parent, text=parent.text + "\n", note=" ", values={"dish": "Stew"}, **options
    )
    version = mini_store.get_version(family="mini", version=saved)
    assert (run.version, run.case_id) == (saved, None)  # Values typed over the case's: no case.
    assert version.parent == 1 and version.text == parent.text + "\n" and "saved automatically" in version.note
    assert version.author == "Ada"  # the person's name, not "dashboard"


def test_each_job_needs_its_role_and_says_who_grants_it(mini_store) -> None:
    team = AccessPolicy(team=True, admins=frozenset({"boss@example.org"}))
    mini_store.arrive(key="boss@example.org", name="Boss", policy=team)
    viewer = mini_store.arrive(key="vic@example.org", name="Vic", policy=team)
    assert viewer.role is Role.VIEWER
    parent = mini_store.get_version(family="mini", version=1)
    versions_before = len(mini_store.get_family(name="mini").versions)
    with pytest.raises(PermissionDenied, match=r"save a template version you need the editor role, but Vic is a viewer\. "
                                               r"Ask .*boss@example\.org.* to grant it"):
        save_version(mini_store, actor="vic@example.org", family="mini", parent=parent, text=parent.text + "!", note="")
    with pytest.raises(PermissionDenied, match="reviewer role"):
        give_verdict(mini_store, actor="vic@example.org", verdict="good", subject="x")
    assert len(mini_store.get_family(name="mini").versions) == versions_before and mini_store.list_reviews() == []

    mini_store.set_role(actor="boss@example.org", key="vic@example.org", role=Role.REVIEWER)
    review = give_verdict(mini_store, actor="vic@example.org", verdict="good", subject="x")  # holds from the next action
    assert review.reviewer == "Vic"
    with pytest.raises(PermissionDenied, match="editor role"):
        save_version(mini_store, actor="vic@example.org", family="mini", parent=parent, text=parent.text + "!", note="")
    mini_store.set_role(actor="boss@example.org", key="vic@example.org", role=Role.VIEWER)
    with pytest.raises(PermissionDenied, match="reviewer role"):  # revoked: refused at once
        give_verdict(mini_store, actor="vic@example.org", verdict="bad", subject="x")
    with pytest.raises(PermissionDenied, match="not known to promptkit yet"):
        give_verdict(mini_store, actor="stranger@example.org", verdict="bad", subject="x")

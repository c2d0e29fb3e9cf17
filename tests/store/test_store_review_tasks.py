"""Review tasks and judgements in the store, on SQLite and PostgreSQL, including two reviewers at the same moment."""

from __future__ import annotations

import pytest
from test_store_processes import start_worker

from promptkit.errors import StoreError
from promptkit.people import AccessPolicy, Role
from promptkit.store import ComparisonCellRecord, Store
from promptkit.templates import TestCase

TEAM = AccessPolicy(team=True, admins=frozenset({"ed@x.org"}), default_role=Role.REVIEWER)
CASES = tuple(TestCase(id=f"case-{n}", values={"x": str(n)}) for n in range(12))


def _finished_comparison(store: Store) -> int:
    store.add_family(name="menu")
    for text in ("{{ x }}", "{{ x }}!"):
        store.add_version(family="menu", text=text, author="seed", note="")
    started = store.start_comparison(family="menu", versions=[1, 2], cases=CASES, model="m", settings={}, created_by="ed@x.org")
    cells = [
        ComparisonCellRecord(version=v, case_id=c.id, run_id=None, prompt=None, outcome_likelihoods={}, samples=(),
                             agreement=None, error="not generated in this test")
        for v in (1, 2) for c in CASES
    ]
    store.finish_comparison(started.id, cells=cells)
    for key, name in (("ed@x.org", "Ed"), ("rae@x.org", "Rae"), ("sam@x.org", "Sam")):
        store.arrive(key=key, name=name, policy=TEAM)
    return started.id


def test_judgements_are_kept_per_reviewer_and_replaced_on_a_second_verdict(store: Store) -> None:
    comparison_id = _finished_comparison(store)
    task = store.create_review_task(actor="ed@x.org", comparison_id=comparison_id, pairs=[(1, 2)], cases=["case-0"])
    store.judge(actor="rae@x.org", task_id=task.id, case_id="case-0", pair=(1, 2), shown_left=2, verdict="b")
    store.judge(actor="sam@x.org", task_id=task.id, case_id="case-0", pair=(1, 2), shown_left=1, verdict="a")
    store.judge(actor="rae@x.org", task_id=task.id, case_id="case-0", pair=(1, 2), shown_left=2, verdict="tie", comment="on reflection")
    assert [(j.reviewer, j.verdict, j.shown_left, j.comment) for j in store.list_judgements(task.id)] == [
        ("rae@x.org", "tie", 2, "on reflection"), ("sam@x.org", "a", 1, ""),
    ]
    with pytest.raises(StoreError, match="a verdict is one of a, b, tie, both_bad, not 'left'"):
        store.judge(actor="rae@x.org", task_id=task.id, case_id="case-0", pair=(1, 2), shown_left=1, verdict="left")
    with pytest.raises(StoreError, match="no finished comparison 99"):
        store.create_review_task(actor="ed@x.org", comparison_id=99, pairs=[(1, 2)], cases=["case-0"])
    assert store.get_review_task(task.id) == task


def test_two_reviewers_judging_at_the_same_moment_are_both_kept(store_url: str, store: Store) -> None:
    comparison_id = _finished_comparison(store)
    task = store.create_review_task(actor="ed@x.org", comparison_id=comparison_id, pairs=[(1, 2)], cases=[c.id for c in CASES])
    workers = [start_worker("judge-all", store_url, str(task.id), reviewer) for reviewer in ("rae@x.org", "sam@x.org")]
    for worker in workers:
        _, stderr = worker.communicate(timeout=120)
        assert worker.returncode == 0, stderr
    judgements = store.list_judgements(task.id)
    assert len(judgements) == 2 * len(CASES)
    assert {(j.reviewer, j.case_id) for j in judgements} == {(r, c.id) for r in ("rae@x.org", "sam@x.org") for c in CASES}

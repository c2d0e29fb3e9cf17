"""Review tasks and judgements in the store, on SQLite and PostgreSQL, including two reviewers at the same moment."""

from __future__ import annotations

import pytest
from test_store_processes import start_worker

from promptkit.errors import StoreError
from promptkit.people import AccessPolicy, Role
from promptkit.store import ComparisonCellRecord, Store
from promptkit.templates import ReviewCriterion, TestCase

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


CRITERIA = (ReviewCriterion("tone", "Is it friendly?"), ReviewCriterion("respects the dislikes"))


def test_rubric_scores_are_kept_per_reviewer_checked_and_replaced(store: Store) -> None:
    comparison_id = _finished_comparison(store)
    task = store.create_review_task(
        actor="ed@x.org", comparison_id=comparison_id, cases=["case-0", "case-1"], mode="rubric", versions=[2],
        criteria=CRITERIA,
    )
    assert (task.mode, task.versions, task.criteria, task.pairs) == ("rubric", (2,), CRITERIA, ())
    assert store.get_review_task(task.id) == task
    store.judge_rubric(actor="rae@x.org", task_id=task.id, case_id="case-0", version=2, scores={"tone": 4, "respects the dislikes": 1})
    store.judge_rubric(actor="sam@x.org", task_id=task.id, case_id="case-0", version=2, scores={"tone": 5, "respects the dislikes": 2})
    store.judge_rubric(actor="rae@x.org", task_id=task.id, case_id="case-0", version=2, scores={"tone": 3, "respects the dislikes": 1},
                comment="kinder on a second look")
    assert [(j.reviewer, dict(j.scores), j.comment) for j in store.list_rubric_judgements(task.id)] == [
        ("rae@x.org", {"tone": 3, "respects the dislikes": 1}, "kinder on a second look"),
        ("sam@x.org", {"tone": 5, "respects the dislikes": 2}, ""),
    ]
    bad_scores = [
        ({"tone": 6, "respects the dislikes": 1}, r"give 'tone' a whole score from 1 to 5 \(got 6\)"),
        ({"tone": 3}, r"give 'respects the dislikes' a whole score from 1 to 5 \(got None\)"),
        ({"tone": True, "respects the dislikes": 1}, r"give 'tone' a whole score from 1 to 5 \(got True\)"),
        ({"tone": 3, "respects the dislikes": 1, "length": 2}, "scores tone, respects the dislikes, not length"),
    ]
    for scores, message in bad_scores:
        with pytest.raises(StoreError, match=message):
            store.judge_rubric(actor="sam@x.org", task_id=task.id, case_id="case-1", version=2, scores=scores)
    with pytest.raises(StoreError, match="v1 on 'case-1' is not an item of rubric review task"):
        store.judge_rubric(actor="sam@x.org", task_id=task.id, case_id="case-1", version=1, scores={"tone": 3})
    with pytest.raises(StoreError, match="is not an item of review task"):  # a pairwise verdict on a rubric task
        store.judge(actor="sam@x.org", task_id=task.id, case_id="case-1", pair=(1, 2), shown_left=1, verdict="a")
    assert len(store.list_rubric_judgements(task.id)) == 2 and store.list_judgements(task.id) == []
    with pytest.raises(StoreError, match="v3 is not one of comparison"):
        store.create_review_task(actor="ed@x.org", comparison_id=comparison_id, cases=["case-0"], mode="rubric",
                                 versions=[3], criteria=CRITERIA)
    with pytest.raises(StoreError, match="needs at least one version, one case and one criterion"):
        store.create_review_task(actor="ed@x.org", comparison_id=comparison_id, cases=["case-0"], mode="rubric",
                                 versions=[1], criteria=())
    with pytest.raises(StoreError, match="mode is one of pairwise, rubric, not 'stars'"):
        store.create_review_task(actor="ed@x.org", comparison_id=comparison_id, cases=["case-0"], mode="stars")


def test_two_reviewers_scoring_at_the_same_moment_are_both_kept(store_url: str, store: Store) -> None:
    comparison_id = _finished_comparison(store)
    task = store.create_review_task(actor="ed@x.org", comparison_id=comparison_id, cases=[c.id for c in CASES],
                                    mode="rubric", versions=[1, 2], criteria=CRITERIA)
    workers = [start_worker("score-all", store_url, str(task.id), reviewer) for reviewer in ("rae@x.org", "sam@x.org")]
    for worker in workers:
        _, stderr = worker.communicate(timeout=120)
        assert worker.returncode == 0, stderr
    judgements = store.list_rubric_judgements(task.id)
    assert {(j.reviewer, j.case_id, j.version) for j in judgements} == {
        (r, c.id, v) for r in ("rae@x.org", "sam@x.org") for c in CASES for v in (1, 2)
    }
    assert all(dict(j.scores) == {"tone": 3, "respects the dislikes": 3} for j in judgements)

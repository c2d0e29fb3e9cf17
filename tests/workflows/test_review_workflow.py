"""Blind pairwise review: tasks from a comparison, per-reviewer blind order, unblinded judgements, aggregates."""

from __future__ import annotations

import pytest

from promptkit.errors import StoreError
from promptkit.people import AccessPolicy, PermissionDenied, Role
from promptkit.review import blind_order
from promptkit.workflows import (
    ComparisonRequest,
    judge_item,
    review_items,
    run_comparison,
    set_review_task,
    task_summary,
)
from promptkit.workflows.review import item_key

TEAM = AccessPolicy(team=True, admins=frozenset({"ed@x.org"}), default_role=Role.REVIEWER)


@pytest.fixture
def comparison_id(mini_store, tiny_gemma3) -> int:
    stored = run_comparison(
        mini_store, tiny_gemma3, ComparisonRequest(family="mini", versions=[1, 2], max_new_tokens=3), actor="ada"
    )
    for key, name in (("ed@x.org", "Ed"), ("rae@x.org", "Rae"), ("sam@x.org", "Sam")):
        mini_store.arrive(key=key, name=name, policy=TEAM)
    return stored.record.id


def test_each_reviewer_sees_a_stable_blind_order_and_the_store_keeps_unblinded_verdicts(mini_store, comparison_id):
    task = set_review_task(mini_store, actor="ed@x.org", comparison_id=comparison_id, reviewers=["rae@x.org", "sam@x.org"])
    assert task.pairs == ((1, 2),) and task.cases == ("soup", "bread")
    items = review_items(mini_store, actor="rae@x.org", task_id=task.id)
    assert items == review_items(mini_store, actor="rae@x.org", task_id=task.id)  # stable across visits
    for item in items:
        swapped = blind_order(task_id=task.id, reviewer="rae@x.org", item_key=item_key(item.case_id, item.pair))
        assert item.left_version == (2 if swapped else 1)
        cell_text = {n: mini_store.get_run(run_id=r).completion for n, r in _runs(mini_store, comparison_id, item.case_id).items()}
        assert (item.left, item.right) == ((cell_text[2], cell_text[1]) if swapped else (cell_text[1], cell_text[2]))
    soup = next(item for item in items if item.case_id == "soup")
    judge_item(mini_store, actor="rae@x.org", task_id=task.id, case_id="soup", pair=(1, 2), verdict="left")
    (stored,) = mini_store.list_judgements(task.id)
    assert stored.shown_left == soup.left_version
    assert stored.verdict == ("a" if soup.left_version == 1 else "b")  # "left" means whichever version was on the left
    again = next(item for item in review_items(mini_store, actor="rae@x.org", task_id=task.id) if item.case_id == "soup")
    assert again.verdict == "left"
    judge_item(mini_store, actor="rae@x.org", task_id=task.id, case_id="soup", pair=(1, 2), verdict="tie", comment="same")
    assert [(j.verdict, j.comment) for j in mini_store.list_judgements(task.id)] == [("tie", "same")]  # replaced, not added


def test_the_summary_counts_wins_agreement_and_disputes(mini_store, comparison_id):
    task = set_review_task(mini_store, actor="ed@x.org", comparison_id=comparison_id, reviewers=["rae@x.org", "sam@x.org"])
    a_for = {}
    for reviewer in ("rae@x.org", "sam@x.org"):
        for case in ("soup", "bread"):
            swapped = blind_order(task_id=task.id, reviewer=reviewer, item_key=item_key(case, (1, 2)))
            a_for[(reviewer, case)] = "right" if swapped else "left"  # the side v1 is shown on
    # Both prefer v1 on soup; on bread Rae prefers v1 and Sam calls both bad.
    judge_item(mini_store, actor="rae@x.org", task_id=task.id, case_id="soup", pair=(1, 2), verdict=a_for[("rae@x.org", "soup")])
    with pytest.raises(PermissionDenied, match=r"once you have judged every item of task \d+ \(1 of 2 done\)"):
        task_summary(mini_store, actor="rae@x.org", task_id=task.id)
    judge_item(mini_store, actor="rae@x.org", task_id=task.id, case_id="bread", pair=(1, 2), verdict=a_for[("rae@x.org", "bread")])
    judge_item(mini_store, actor="sam@x.org", task_id=task.id, case_id="soup", pair=(1, 2), verdict=a_for[("sam@x.org", "soup")])
    judge_item(mini_store, actor="sam@x.org", task_id=task.id, case_id="bread", pair=(1, 2), verdict="both_bad")
    summary = task_summary(mini_store, actor="rae@x.org", task_id=task.id)  # Rae is done: she may see it now
    assert summary == task_summary(mini_store, actor="ed@x.org", task_id=task.id)
    (pair,) = summary["pairs"]
    assert (pair["a"], pair["b"], pair["wins_a"], pair["wins_b"], pair["ties"], pair["both_bad"]) == (1, 2, 3, 0, 0, 1)
    # Wilson 95% for 3/3: centre (3 + 1.96²/2) / (3 + 1.96²) etc.; low = 0.4385, high = 1.
    assert pair["win_rate_a"]["value"] == 1.0 and pair["win_rate_a"]["low"] == pytest.approx(0.43850, abs=1e-4)
    assert pair["p_value"] == pytest.approx(0.25)  # exact sign test: 2 · (1/2)³
    # Nominal alpha over 2 items × 2 reviewers: soup (a, a), bread (a, both_bad).
    # Pairable values: a×3, both_bad×1 (n = 4); D_o = 2·1/4... alpha = 1 − (n−1)·o_disagree/(e_disagree) = 1 − 3·(2/4)... see below.
    # Coincidences: soup gives (a,a)×2 → o_aa = 2; bread gives (a,bb)+(bb,a) → o_ab = 1, o_ba = 1 (each /(m−1) = /1).
    # n_a = 3, n_bb = 1, n = 4; D_o = (o_ab + o_ba)/n = 2/4; D_e = 2·n_a·n_bb/(n(n−1)) = 6/12; alpha = 1 − D_o/D_e = 0.
    assert summary["agreement"] == {"krippendorff_alpha": pytest.approx(0.0), "n_items": 2, "n_reviewers": 2}
    assert summary["disputed"] == [{"case": "bread", "a": 1, "b": 2, "verdicts": {"Rae": "a", "Sam": "both_bad"}}]
    assert [(r["name"], r["done"], r["total"]) for r in summary["reviewers"]] == [("Rae", 2, 2), ("Sam", 2, 2)]
    assert set(summary) >= {"task_id", "comparison_id", "mode", "pairs", "rubric", "agreement", "reviewers", "disputed"}


def test_only_editors_set_tasks_and_only_those_asked_judge(mini_store, comparison_id):
    mini_store.arrive(key="vic@x.org", name="Vic", policy=AccessPolicy(team=True))  # a viewer
    with pytest.raises(PermissionDenied, match="set a review task you need the editor role, but Rae is a reviewer"):
        set_review_task(mini_store, actor="rae@x.org", comparison_id=comparison_id)
    with pytest.raises(StoreError, match=r"'vic@x\.org' is not a reviewer here"):
        set_review_task(mini_store, actor="ed@x.org", comparison_id=comparison_id, reviewers=["vic@x.org"])
    with pytest.raises(StoreError, match="v1 and v3 are not two of comparison"):
        set_review_task(mini_store, actor="ed@x.org", comparison_id=comparison_id, pairs=[(1, 3)])
    with pytest.raises(StoreError, match="has no case 'stew'"):
        set_review_task(mini_store, actor="ed@x.org", comparison_id=comparison_id, cases=["stew"])
    assert mini_store.list_review_tasks() == []
    task = set_review_task(mini_store, actor="ed@x.org", comparison_id=comparison_id, reviewers=["rae@x.org"])
    with pytest.raises(PermissionDenied, match=r"asks rae@x\.org, not you"):
        review_items(mini_store, actor="sam@x.org", task_id=task.id)
    with pytest.raises(PermissionDenied, match="judge completions you need the reviewer role"):
        judge_item(mini_store, actor="vic@x.org", task_id=task.id, case_id="soup", pair=(1, 2), verdict="left")
    with pytest.raises(StoreError, match="is not an item of review task"):
        judge_item(mini_store, actor="rae@x.org", task_id=task.id, case_id="soup", pair=(2, 1), verdict="left")
    with pytest.raises(ValueError, match="worse"):
        judge_item(mini_store, actor="rae@x.org", task_id=task.id, case_id="soup", pair=(1, 2), verdict="worse")
    assert mini_store.list_judgements(task.id) == []
    every_reviewer = set_review_task(mini_store, actor="ed@x.org", comparison_id=comparison_id)
    assert every_reviewer.reviewers == () and len(review_items(mini_store, actor="sam@x.org", task_id=every_reviewer.id)) == 2
    assert [t.id for t in mini_store.list_review_tasks(reviewer="sam@x.org")] == [every_reviewer.id]


def _runs(store, comparison_id, case_id):
    return {c.version: c.run_id for c in store.get_comparison(comparison_id).cells if c.case_id == case_id}


def test_a_pair_or_case_asked_twice_is_one_item_so_a_reviewer_can_finish(mini_store, comparison_id):
    task = set_review_task(
        mini_store, actor="ed@x.org", comparison_id=comparison_id, pairs=[(1, 2), (1, 2)], cases=["soup", "soup"]
    )
    assert (task.pairs, task.cases) == (((1, 2),), ("soup",))
    assert len(review_items(mini_store, actor="rae@x.org", task_id=task.id)) == 1


def test_the_cli_prints_the_summary_as_its_user_sees_it(mini_store, comparison_id, templates_dir, capsys, monkeypatch):
    import json

    from promptkit.cli import main

    task = set_review_task(mini_store, actor="ed@x.org", comparison_id=comparison_id)
    judge_item(mini_store, actor="rae@x.org", task_id=task.id, case_id="soup", pair=(1, 2), verdict="tie")
    monkeypatch.setenv("PROMPTKIT_MODE", "team")
    monkeypatch.setenv("PROMPTKIT_USER", "ed@x.org")
    monkeypatch.setenv("PROMPTKIT_ADMINS", "ed@x.org")
    assert main(["reviews", "--task", str(task.id), "--json", "--templates-dir", str(templates_dir)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["task_id"] == task.id and summary["comparison_id"] == comparison_id
    assert summary["pairs"][0]["ties"] == 1 and summary["reviewers"] == [{"name": "Rae", "key": "rae@x.org", "done": 1, "total": 2}]
    monkeypatch.setenv("PROMPTKIT_USER", "sam@x.org")  # a reviewer with items left
    assert main(["reviews", "--task", str(task.id), "--json", "--templates-dir", str(templates_dir)]) == 2
    assert "once you have judged every item" in capsys.readouterr().err
    assert main(["reviews", "--task", "999", "--json", "--templates-dir", str(templates_dir)]) == 2
    assert "no review task 999" in capsys.readouterr().err


def test_the_report_shows_a_tasks_results_to_those_who_may_see_them(mini_store, comparison_id):
    from promptkit.workflows import comparison_report

    task = set_review_task(mini_store, actor="ed@x.org", comparison_id=comparison_id)
    judge_item(mini_store, actor="rae@x.org", task_id=task.id, case_id="soup", pair=(1, 2), verdict="tie")
    for_editor = comparison_report(mini_store, comparison_id, actor="ed@x.org")
    assert f"<h3>Task #{task.id}</h3>" in for_editor and "Rae: 1 of 2." in for_editor
    for_reviewer = comparison_report(mini_store, comparison_id, actor="sam@x.org")  # has judged nothing yet
    assert "Reviews by your team" not in for_reviewer and "Rae: 1 of 2." not in for_reviewer


class _ScriptedModel:
    """Answers v1's prompts "Likely good" and v2's (which start "Analyze") "Avoid"."""

    def __init__(self) -> None:
        from promptkit.models.api import ModelInfo

        self.info = ModelInfo(name="scripted", family="test", device="CPU", dtype="float32", context_length=512, load_seconds=0)

    def generate(self, prompts, *, settings, on_progress=None):
        from promptkit.generation import Completion, StopReason

        del settings, on_progress
        return [
            Completion(prompt, " Avoid" if prompt.startswith("Analyze") else " Likely good", (), StopReason.MAX_NEW_TOKENS, {})
            for prompt in prompts
        ]


def test_an_agreed_judgement_becomes_the_cases_expected_outcome(mini_store):
    from promptkit.errors import PromptkitError
    from promptkit.workflows import case_from_judgements

    stored = run_comparison(mini_store, _ScriptedModel(), ComparisonRequest(family="mini", versions=[1, 2]), actor="ada")
    for key, name in (("ed@x.org", "Ed"), ("rae@x.org", "Rae"), ("sam@x.org", "Sam")):
        mini_store.arrive(key=key, name=name, policy=TEAM)
    task = set_review_task(mini_store, actor="ed@x.org", comparison_id=stored.record.id)
    for reviewer in ("rae@x.org", "sam@x.org"):  # both prefer v1's "Likely good" on soup
        v1_side = "right" if blind_order(task_id=task.id, reviewer=reviewer, item_key=item_key("soup", (1, 2))) else "left"
        judge_item(mini_store, actor=reviewer, task_id=task.id, case_id="soup", pair=(1, 2), verdict=v1_side)
    assert mini_store.get_case(family="mini", case_id="soup").expect.labels == ("Avoid",)
    with pytest.raises(PermissionDenied, match="editor role"):
        case_from_judgements(mini_store, actor="rae@x.org", task_id=task.id, case_id="soup", pair=(1, 2))
    case = case_from_judgements(mini_store, actor="ed@x.org", task_id=task.id, case_id="soup", pair=(1, 2))
    assert case.expect.labels == ("Likely good",) and case.expect.line == "Recommendation:"
    assert mini_store.get_case(family="mini", case_id="soup") == case
    judge_item(mini_store, actor="rae@x.org", task_id=task.id, case_id="bread", pair=(1, 2), verdict="tie")
    with pytest.raises(PromptkitError, match=r"do not agree on which completion of 'bread' is better \(verdicts tie: 1\)"):
        case_from_judgements(mini_store, actor="ed@x.org", task_id=task.id, case_id="bread", pair=(1, 2))

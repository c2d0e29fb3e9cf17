"""Rubric review tasks (1–5 scores per criterion, version hidden) and tasks over comparisons with failed cells."""

from __future__ import annotations

import json

import pytest

from promptkit.errors import PromptkitError, StoreError
from promptkit.generation import Completion, StopReason
from promptkit.models.api import ModelInfo
from promptkit.people import AccessPolicy, PermissionDenied, Role
from promptkit.review import rubric_order
from promptkit.templates import ReviewCriterion
from promptkit.workflows import (
    ComparisonRequest,
    case_from_judgements,
    comparison_report,
    judge_item,
    review_items,
    rubric_items,
    run_comparison,
    score_item,
    set_review_task,
    task_summary,
)
from promptkit.workflows.review import rubric_item_key

TEAM = AccessPolicy(team=True, admins=frozenset({"ed@x.org"}), default_role=Role.REVIEWER)


class _ScriptedModel:
    """Answers "Likely good" and, when `fail_on` is in a v2 prompt ("Analyze…"), fails that prompt alone."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.info = ModelInfo(name="scripted", family="test", device="CPU", dtype="float32", context_length=512, load_seconds=0)
        self.fail_on = fail_on

    def generate(self, prompts, *, settings, on_progress=None):
        del settings, on_progress
        if self.fail_on is not None and any(p.startswith("Analyze") and self.fail_on in p for p in prompts):
            raise PromptkitError("the prompt is too long for the model's context")
        return [Completion(p, f" Likely good ({len(p)})", (), StopReason.MAX_NEW_TOKENS, {}) for p in prompts]


def _comparison(store, model) -> int:
    stored = run_comparison(store, model, ComparisonRequest(family="mini", versions=[1, 2]), actor="ada")
    for key, name in (("ed@x.org", "Ed"), ("rae@x.org", "Rae"), ("sam@x.org", "Sam")):
        store.arrive(key=key, name=name, policy=TEAM)
    return stored.record.id


# (reviewer, case, version) -> (tone, respects the dislikes)
SCORES = {
    ("rae@x.org", "soup", 1): (4, 5), ("rae@x.org", "soup", 2): (2, 3),
    ("rae@x.org", "bread", 1): (3, 4), ("rae@x.org", "bread", 2): (1, 1),
    ("sam@x.org", "soup", 1): (4, 5), ("sam@x.org", "soup", 2): (4, 3),
    ("sam@x.org", "bread", 1): (3, 4), ("sam@x.org", "bread", 2): (1, 4),
}


def test_reviewers_score_each_completion_blind_and_the_summary_puts_the_scores_together(mini_store):
    comparison_id = _comparison(mini_store, _ScriptedModel())
    task = set_review_task(mini_store, actor="ed@x.org", comparison_id=comparison_id, mode="rubric",
                           reviewers=["rae@x.org", "sam@x.org"])
    assert task.mode == "rubric" and task.versions == (1, 2) and [c.name for c in task.criteria] == [
        "respects the dislikes", "tone",
    ]
    items = rubric_items(mini_store, actor="rae@x.org", task_id=task.id)
    assert items == rubric_items(mini_store, actor="rae@x.org", task_id=task.id)  # the same order on every visit
    assert [i.key for i in items] == rubric_order(
        task_id=task.id, reviewer="rae@x.org", item_keys=[rubric_item_key(c, v) for c in ("soup", "bread") for v in (1, 2)]
    )
    soup_v2 = next(i for i in items if (i.case_id, i.version) == ("soup", 2))
    assert soup_v2.completion == mini_store.get_run(
        run_id=next(c.run_id for c in mini_store.get_comparison(comparison_id).cells if (c.version, c.case_id) == (2, "soup"))
    ).completion
    for (reviewer, case, version), (tone, dislikes) in SCORES.items():
        if (reviewer, case, version) == ("sam@x.org", "bread", 2):
            with pytest.raises(PermissionDenied, match=r"once you have judged every item of task \d+ \(3 of 4 done\)"):
                task_summary(mini_store, actor=reviewer, task_id=task.id)
        score_item(mini_store, actor=reviewer, task_id=task.id, case_id=case, version=version,
                   scores={"tone": tone, "respects the dislikes": dislikes}, comment=f"{reviewer} on {case}")
    again = next(i for i in rubric_items(mini_store, actor="rae@x.org", task_id=task.id) if i.key == soup_v2.key)
    assert again.scores == {"respects the dislikes": 3, "tone": 2} and again.comment == "rae@x.org on soup"

    summary = task_summary(mini_store, actor="sam@x.org", task_id=task.id)
    assert summary == task_summary(mini_store, actor="ed@x.org", task_id=task.id)
    assert summary["mode"] == "rubric" and summary["pairs"] == []
    # tone, v1: (4 + 3 + 4 + 3) / 4; v2: (2 + 1 + 4 + 1) / 4. Dislikes, v1: (5 + 4 + 5 + 4) / 4; v2: (3 + 1 + 3 + 4) / 4.
    assert summary["rubric"] == {
        "respects the dislikes": {"v1": {"mean": 4.5, "n": 4}, "v2": {"mean": 2.75, "n": 4}},
        "tone": {"v1": {"mean": 3.5, "n": 4}, "v2": {"mean": 2.0, "n": 4}},
    }
    # Ordinal alpha over 8 units (4 items × 2 criteria), 2 reviewers each: values 1×3, 2×1, 3×4, 4×6, 5×2 (n = 16).
    # Only soup v2 tone (2, 4) and bread v2 dislikes (1, 4) disagree. δ(c, k) = (Σ_{g=c..k} n_g − (n_c + n_k)/2)²:
    # δ(2,4) = (11 − 3.5)² = 56.25, δ(1,4) = (14 − 4.5)² = 90.25, so D_o = 2·(56.25 + 90.25)/16 = 293/16.
    # D_e = Σ_{c≠k} n_c·n_k·δ(c,k) / (n(n − 1)) = 2·5040 / 240 = 42; alpha = 1 − D_o/D_e.
    assert summary["agreement"] == {"krippendorff_alpha": pytest.approx(1 - (293 / 16) / 42), "n_items": 4, "n_reviewers": 2}
    # bread v2 spreads 3 on the dislikes (1 vs 4), soup v2 2 on tone (2 vs 4): widest first.
    assert summary["disputed"] == [
        {"case": "bread", "version": 2, "spread": {"respects the dislikes": 3},
         "scores": {"Rae": {"respects the dislikes": 1, "tone": 1}, "Sam": {"respects the dislikes": 4, "tone": 1}}},
        {"case": "soup", "version": 2, "spread": {"tone": 2},
         "scores": {"Rae": {"respects the dislikes": 3, "tone": 2}, "Sam": {"respects the dislikes": 3, "tone": 4}}},
    ]
    assert [(r["name"], r["done"], r["total"]) for r in summary["reviewers"]] == [("Rae", 4, 4), ("Sam", 4, 4)]
    assert json.loads(json.dumps(summary)) == summary  # what `reviews --task ID --json` prints
    report = comparison_report(mini_store, comparison_id, actor="ed@x.org")
    assert f"<h3>Task #{task.id}</h3>" in report and "Krippendorff's α (ordinal): 0.56" in report
    assert "<td>tone</td>\n<td>3.50 (4)</td>\n<td>2.00 (4)</td>" in report
    assert "Disputed: bread · v2 — respects the dislikes —" in report and "Sam: respects the dislikes 4, tone 1" in report
    with pytest.raises(PromptkitError, match="asks for rubric scores, not blind A/B verdicts"):
        review_items(mini_store, actor="rae@x.org", task_id=task.id)
    with pytest.raises(PromptkitError, match="only a blind A/B verdict names the better completion"):
        case_from_judgements(mini_store, actor="ed@x.org", task_id=task.id, case_id="soup", pair=(1, 2))


def test_rubric_tasks_need_an_editor_a_family_with_criteria_and_scores_from_1_to_5(mini_store, templates_dir):
    comparison_id = _comparison(mini_store, _ScriptedModel())
    with pytest.raises(PermissionDenied, match="set a review task you need the editor role, but Rae is a reviewer"):
        set_review_task(mini_store, actor="rae@x.org", comparison_id=comparison_id, mode="rubric")
    task = set_review_task(mini_store, actor="ed@x.org", comparison_id=comparison_id, mode="rubric", versions=[2],
                           cases=["soup"])
    with pytest.raises(StoreError, match=r"give 'tone' a whole score from 1 to 5 \(got 0\)"):
        score_item(mini_store, actor="rae@x.org", task_id=task.id, case_id="soup", version=2,
                   scores={"tone": 0, "respects the dislikes": 3})
    with pytest.raises(StoreError, match="v1 on 'soup' is not an item of rubric review task"):
        score_item(mini_store, actor="rae@x.org", task_id=task.id, case_id="soup", version=1,
                   scores={"tone": 3, "respects the dislikes": 3})
    assert mini_store.list_rubric_judgements(task.id) == []

    plain = (templates_dir / "mini.yaml").read_text().replace("family: mini", "family: plain")
    start, end = plain.index("review_criteria:"), plain.index("versions:")
    (templates_dir / "plain.yaml").write_text(plain[:start] + plain[end:])
    mini_store.import_library(templates_dir=templates_dir)
    assert mini_store.get_family(name="plain").review_criteria == ()
    assert mini_store.get_family(name="mini").review_criteria == (
        ReviewCriterion("respects the dislikes", "Does it take what the diner dislikes into account?"),
        ReviewCriterion("tone", "Is it friendly and clear?"),
    )
    soup = mini_store.get_case(family="mini", case_id="soup")
    mini_store.import_cases(family="mini", cases=(soup,))  # a spreadsheet import keeps the family's criteria
    assert len(mini_store.get_family(name="mini").review_criteria) == 2
    stored = run_comparison(mini_store, _ScriptedModel(), ComparisonRequest(family="plain", versions=[1, 2]), actor="ada")
    tasks_before = mini_store.list_review_tasks()
    with pytest.raises(PromptkitError, match=r"The family 'plain' defines no review criteria.*`review_criteria:`"):
        set_review_task(mini_store, actor="ed@x.org", comparison_id=stored.record.id, mode="rubric")
    assert mini_store.list_review_tasks() == tasks_before


def test_cells_whose_run_failed_are_left_out_of_a_tasks_items(mini_store):
    comparison_id = _comparison(mini_store, _ScriptedModel(fail_on="<script>"))  # v2 on bread fails
    cells = {(c.version, c.case_id): c for c in mini_store.get_comparison(comparison_id).cells}
    assert "too long" in (cells[(2, "bread")].error or "")
    assert all(cell.error is None for key, cell in cells.items() if key != (2, "bread"))

    pairwise = set_review_task(mini_store, actor="ed@x.org", comparison_id=comparison_id)
    assert [(i.case_id, i.pair) for i in review_items(mini_store, actor="rae@x.org", task_id=pairwise.id)] == [("soup", (1, 2))]
    with pytest.raises(PromptkitError, match=r"v1 vs v2 on 'bread' is left out of task .*: a completion failed to run"):
        judge_item(mini_store, actor="rae@x.org", task_id=pairwise.id, case_id="bread", pair=(1, 2), verdict="tie")
    judge_item(mini_store, actor="rae@x.org", task_id=pairwise.id, case_id="soup", pair=(1, 2), verdict="tie")
    summary = task_summary(mini_store, actor="rae@x.org", task_id=pairwise.id)  # 1 of 1: Rae is done
    assert summary["agreement"]["n_items"] == 1 and summary["reviewers"][0]["total"] == 1

    rubric = set_review_task(mini_store, actor="ed@x.org", comparison_id=comparison_id, mode="rubric")
    assert sorted((i.case_id, i.version) for i in rubric_items(mini_store, actor="rae@x.org", task_id=rubric.id)) == [
        ("bread", 1), ("soup", 1), ("soup", 2),
    ]
    with pytest.raises(PromptkitError, match=r"v2 on 'bread' is left out of task .*: its completion failed to run"):
        score_item(mini_store, actor="rae@x.org", task_id=rubric.id, case_id="bread", version=2,
                   scores={"tone": 3, "respects the dislikes": 3})

    tasks_before = mini_store.list_review_tasks()
    for nothing_to_judge in (
        {"cases": ["bread"]},
        {"cases": ["bread"], "mode": "rubric", "versions": [2]},
    ):
        with pytest.raises(PromptkitError, match=r"Every completion this task would show failed to run .*v2 on 'bread'.*nothing to judge"):
            set_review_task(mini_store, actor="ed@x.org", comparison_id=comparison_id, **nothing_to_judge)
    assert mini_store.list_review_tasks() == tasks_before

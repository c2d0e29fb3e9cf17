"""My reviews, rubric tasks and judgements into test cases: scores typed per criterion, results, 'Make it a test case'."""

from __future__ import annotations

from dataclasses import replace

from apphelpers import APP, button, no_errors, open_page
from streamlit.testing.v1 import AppTest

from promptkit.generation import Completion, StopReason
from promptkit.models.api import ModelInfo
from promptkit.people import AccessPolicy, Role
from promptkit.review import blind_order
from promptkit.store import Store
from promptkit.workflows import ComparisonRequest, judge_item, run_comparison, set_review_task
from promptkit.workflows.review import item_key

COMPARE = "dashboard/views/compare.py"
REVIEWS = "dashboard/views/reviews.py"


def _score(at: AppTest, scores: dict[str, str]) -> AppTest:
    fields = {w.key.rsplit("::", 1)[1]: w for w in at.text_input if w.key.startswith("pk_score_value::")}
    assert set(fields) == set(scores)
    for criterion, typed in scores.items():
        fields[criterion].set_value(typed)
    button(at, "Save and go on").click()
    return at.run()


def test_a_rubric_task_is_scored_per_criterion_with_versions_hidden_then_shows_the_means(small_library):
    at = open_page(COMPARE)
    at.multiselect(key="pk_cmp_versions::tiny-menu").set_value([1, 2])
    at.multiselect(key="pk_cmp_cases::tiny-menu").set_value(["quiche", "fondue"])
    at.number_input(key="pk_cmp_max_tokens").set_value(3)
    button(at, "Run comparison").click()
    at.run()
    button(at, "Create rubric task").click()
    at.run()
    no_errors(at)
    assert any("Rubric review task #1 created" in item.value for item in at.success)
    with Store.open() as store:
        (task,) = store.list_review_tasks()
    assert task.mode == "rubric" and task.versions == (1, 2) and [c.name for c in task.criteria] == [
        "respects the dislikes", "tone",
    ]

    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params["task"] = str(task.id)
    at.switch_page(REVIEWS)
    at.run()
    no_errors(at)
    assert "**The answer to score**" in [item.value for item in at.markdown]
    shown = " ".join(item.value for item in at.markdown) + " ".join(item.value for item in at.caption)
    assert "v1" not in shown and "v2" not in shown and "plain" not in shown and "with-dislikes" not in shown
    at = _score(at, {"respects the dislikes": "7", "tone": "3"})
    assert "Give a score from 1 to 5 for: respects the dislikes. Nothing was saved." in at.error[0].value
    with Store.open() as store:
        assert store.list_rubric_judgements(task.id) == []
    for position, typed in enumerate((("5", "4"), ("1", "4"), ("5", "4"), ("1", "4")), start=1):
        assert at.subheader[0].value.startswith(f"Item {position} of 4")
        at = _score(at, {"respects the dislikes": typed[0], "tone": typed[1]})
        no_errors(at)
    assert any("You have judged every item" in item.value for item in at.success)
    assert at.get("plotly_chart")
    assert any("Krippendorff's α, ordinal" in item.value for item in at.caption)
    means = next(frame.value for frame in at.dataframe if "Criterion" in frame.value.columns)
    assert means.set_index("Criterion").loc["tone"].tolist() == ["4.00 (2)", "4.00 (2)"]
    with Store.open() as store:
        judgements = store.list_rubric_judgements(task.id)
    assert sorted((j.case_id, j.version) for j in judgements) == [("fondue", 1), ("fondue", 2), ("quiche", 1), ("quiche", 2)]
    assert sorted(j.scores["respects the dislikes"] for j in judgements) == [1, 1, 5, 5]


class _ScriptedModel:
    """Answers prompts that mention the dislikes (v2) "Avoid", the others "Likely good"."""

    info = ModelInfo(name="scripted", family="test", device="CPU", dtype="float32", context_length=512, load_seconds=0)

    def generate(self, prompts, *, settings, on_progress=None):
        del settings, on_progress
        return [
            Completion(p, " Avoid" if "Dislikes:" in p else " Likely good", (), StopReason.MAX_NEW_TOKENS, {})
            for p in prompts
        ]


def _judged_task(small_library) -> int:
    """A blind task both reviewers finished: they agree v2 is better on quiche and disagree on fondue."""
    team = AccessPolicy(team=True, admins=frozenset({"ed@x.org"}), default_role=Role.REVIEWER)
    with Store.open() as store:
        store.import_library(templates_dir=small_library)
        store.arrive(key="ada", name="Ada", policy=AccessPolicy())
        stored = run_comparison(
            store, _ScriptedModel(), ComparisonRequest(family="tiny-menu", versions=[1, 2], cases=None), actor="ada"
        )
        for key, name in (("ed@x.org", "Ed"), ("rae@x.org", "Rae"), ("sam@x.org", "Sam")):
            store.arrive(key=key, name=name, policy=team)
        task = set_review_task(store, actor="ed@x.org", comparison_id=stored.record.id, cases=["quiche", "fondue"])
        for reviewer, fondue in (("rae@x.org", "a"), ("sam@x.org", "b")):
            for case, wanted in (("quiche", "b"), ("fondue", fondue)):
                swapped = blind_order(task_id=task.id, reviewer=reviewer, item_key=item_key(case, (1, 2)))
                side = "left" if (wanted == "a") != swapped else "right"
                judge_item(store, actor=reviewer, task_id=task.id, case_id=case, pair=(1, 2), verdict=side)
        return task.id


def _results_as(email: str, name: str, task_id: int) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.user = {"email": email, "name": name, "is_logged_in": True}
    at.query_params["task"] = str(task_id)
    at.switch_page(REVIEWS)
    return at.run()


def _make_case(at: AppTest, case: str) -> AppTest:
    picker = next(w for w in at.selectbox if w.label == "Judged item")
    picker.set_value(next(option for option in picker.options if option.startswith(case)))
    button(at, "Make it a test case").click()
    return at.run()


def test_an_editor_makes_an_agreed_judgement_a_test_case_and_others_are_refused(small_library, monkeypatch):
    monkeypatch.setenv("PROMPTKIT_MODE", "team")
    monkeypatch.setenv("PROMPTKIT_ADMINS", "ed@x.org")
    monkeypatch.setenv("PROMPTKIT_DEFAULT_ROLE", "reviewer")
    task_id = _judged_task(small_library)
    with Store.open() as store:  # quiche expects nothing yet, so the test case made from it is new
        store.import_cases(family="tiny-menu", cases=(replace(store.get_case(family="tiny-menu", case_id="quiche"), expect=None),))
        before = store.get_case(family="tiny-menu", case_id="fondue")

    reviewer = _results_as("rae@x.org", "Rae", task_id)  # Rae has judged both items: she sees the results
    no_errors(reviewer)
    refused = _make_case(reviewer, "quiche")
    assert "turn judgements into test cases you need the editor role, but Rae is a reviewer" in refused.error[0].value
    with Store.open() as store:
        assert store.get_case(family="tiny-menu", case_id="quiche").expect is None  # nothing changed

    editor = _results_as("ed@x.org", "Ed", task_id)
    no_errors(editor)
    options = next(w for w in editor.selectbox if w.label == "Judged item").options
    assert options == ["fondue · v1 vs v2 (disputed)", "quiche · v1 vs v2"]
    made = _make_case(editor, "quiche")
    no_errors(made)
    assert "Test case 'quiche' of tiny-menu updated: it now expects 'Avoid' on the line starting 'Recommendation:'" in (
        made.success[-1].value
    )
    disagreed = _make_case(made, "fondue")
    assert "do not agree on which completion of 'fondue' is better (verdicts a: 1, b: 1)" in disagreed.error[0].value
    with Store.open() as store:
        quiche = store.get_case(family="tiny-menu", case_id="quiche")
        assert quiche.expect.labels == ("Avoid",) and quiche.expect.line == "Recommendation:"
        assert store.get_case(family="tiny-menu", case_id="fondue") == before

"""My reviews: a task set on Compare, judged item by item from the keyboard form, then the results."""

from __future__ import annotations

from apphelpers import APP, button, no_errors, open_page
from streamlit.testing.v1 import AppTest

from promptkit.store import Store

COMPARE = "dashboard/views/compare.py"
REVIEWS = "dashboard/views/reviews.py"


def _comparison_with_a_task() -> AppTest:
    at = open_page(COMPARE)
    at.multiselect(key="pk_cmp_versions::tiny-menu").set_value([1, 2])
    at.multiselect(key="pk_cmp_cases::tiny-menu").set_value(["quiche", "fondue"])
    at.number_input(key="pk_cmp_max_tokens").set_value(3)
    button(at, "Run comparison").click()
    at.run()
    button(at, "Create review task").click()
    return at.run()


def _judge(at: AppTest, typed: str) -> AppTest:
    (verdict,) = [w for w in at.text_input if w.key.startswith("pk_judge_verdict::")]
    verdict.set_value(typed)
    button(at, "Save and go on").click()
    return at.run()


def test_a_task_is_judged_blind_from_the_keyboard_and_then_shows_the_results(small_library):
    compare = _comparison_with_a_task()
    no_errors(compare)
    assert any("Review task #1 created" in item.value for item in compare.success)
    with Store.open() as store:
        (task,) = store.list_review_tasks()
    assert task.pairs == ((1, 2),) and task.cases == ("quiche", "fondue") and task.reviewers == ()

    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params["task"] = str(task.id)
    at.switch_page(REVIEWS)
    at.run()
    no_errors(at)
    assert [item.value for item in at.markdown if item.value in ("**Left**", "**Right**")] == ["**Left**", "**Right**"]
    shown = " ".join(item.value for item in at.markdown) + " ".join(item.value for item in at.caption)
    assert "v1" not in shown and "v2" not in shown and "plain" not in shown  # which version wrote which stays hidden
    at = _judge(at, "9")
    assert "Type 1, 2, 3 or 4" in at.error[0].value
    with Store.open() as store:
        assert store.list_judgements(task.id) == []
    at = _judge(at, "1")
    assert any("Saved: left is better" in item.value for item in at.success)
    at = _judge(at, "4")
    no_errors(at)
    assert any("You have judged every item" in item.value for item in at.success)
    assert at.get("plotly_chart")  # win rates
    with Store.open() as store:
        judgements = store.list_judgements(task.id)
    assert sorted(j.case_id for j in judgements) == ["fondue", "quiche"]
    first = next(j for j in judgements if j.case_id == "quiche")
    assert first.verdict == ("a" if first.shown_left == 1 else "b")  # "left" stored as the version shown there
    assert next(j for j in judgements if j.case_id == "fondue").verdict == "both_bad"


def test_a_link_to_a_task_that_is_missing_or_tampered_says_so(small_library):
    for link in ("41", "1'--"):
        at = AppTest.from_file(APP, default_timeout=300)
        at.query_params["task"] = link
        at.switch_page(REVIEWS)
        at.run()
        assert not at.exception and "does not exist or does not ask you" in at.error[0].value
        assert not [w for w in at.text_input if w.key.startswith("pk_judge_verdict::")]

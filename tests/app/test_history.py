"""History & review page: filters, reviews saved and shown, stored comparisons and their reports."""

from __future__ import annotations

from apphelpers import APP, button, no_errors, open_page, review_widget, save_review
from streamlit.testing.v1 import AppTest

from promptkit.generation import Completion, GenerationSettings, StopReason
from promptkit.store import Store
from promptkit.templates import default_templates_dir, render_template

HISTORY = "dashboard/views/history.py"


def _seed_runs() -> list[int]:
    with Store.open() as store:
        store.import_library(templates_dir=default_templates_dir())
        family = store.get_family(name="menu-analysis")
        ids = []
        for version in family.versions[:2]:
            case = family.cases[0]
            prompt = render_template(version.text, case.values).text
            text = f" It has eggs.\nRecommendation: <script>alert({version.number})</script>"
            run = store.add_run(
                family="menu-analysis",
                version=version.number,
                model="tiny:gemma3",
                completion=Completion(prompt, text, (), StopReason.STOP_SEQUENCE, {}),
                values=case.values,
                settings=GenerationSettings(),
                case_id=case.id,
            )
            ids.append(run.id)
        return ids


def test_review_saved_and_shown(app_env):
    first, second = _seed_runs()
    at = open_page(HISTORY)
    no_errors(at)
    at.selectbox(key="pk_hist_family").set_value("menu-analysis").run()
    assert list(at.dataframe[0].value["Run"]) == [second, first]
    at.selectbox(key="pk_hist_run").set_value(first).run()
    save_review(at, subject="run", verdict="bad", comment="Copies the faulty first example.", name="Ann")
    no_errors(at)
    assert any(f"Review saved for run #{first}" in item.value for item in at.success)
    assert any("**bad** by Ann" in item.value for item in at.markdown)
    assert any(item.value == "Copies the faulty first example." for item in at.text)
    assert at.dataframe[0].value.set_index("Run").loc[first, "Verdicts"] == "bad"
    assert review_widget(at.text_area, "pk_comment", "run", form=1).value == ""  # a fresh form after saving
    assert next(item for item in at.text_input if item.label == "Your name").value == "Ann"  # name kept
    with Store.open() as store:
        (review,) = store.list_reviews(run_id=first)
    assert (review.verdict, review.reviewer) == ("bad", "Ann")
    assert any("No comparisons stored yet" in item.value for item in at.caption)  # runs alone make no report


def test_filters_by_version(app_env):
    _, second = _seed_runs()
    at = open_page(HISTORY)
    at.selectbox(key="pk_hist_family").set_value("menu-analysis").run()
    at.selectbox(key="pk_hist_version::menu-analysis").set_value(2).run()
    no_errors(at)
    assert list(at.dataframe[0].value["Run"]) == [second]


def test_empty_history_says_what_to_do(app_env):
    at = open_page(HISTORY)
    no_errors(at)
    assert any("No runs match yet" in item.value for item in at.info)


def test_review_needs_a_verdict(app_env):
    _seed_runs()
    at = open_page(HISTORY)
    review_widget(at.text_area, "pk_comment", "run").set_value("No verdict yet")
    button(at, "Save review").click()
    at.run()
    assert at.error and "Pick a verdict" in at.error[0].value
    assert review_widget(at.text_area, "pk_comment", "run").value == "No verdict yet"  # kept
    with Store.open() as store:
        assert store.list_reviews() == []


def test_a_draft_review_stays_with_its_run(app_env):
    first, second = _seed_runs()
    at = open_page(HISTORY)
    at.selectbox(key="pk_hist_family").set_value("menu-analysis").run()
    at.selectbox(key="pk_hist_run").set_value(first).run()
    review_widget(at.text_area, "pk_comment", "run").set_value("About the first run")
    button(at, "Save review").click()
    at.run()
    assert "Pick a verdict" in at.error[0].value
    at.selectbox(key="pk_hist_run").set_value(second).run()
    no_errors(at)
    assert review_widget(at.text_area, "pk_comment", "run").value == ""  # not the other run's draft
    save_review(at, subject="run", verdict="good", comment="About the second run", name="Ann")
    with Store.open() as store:
        assert [r.comment for r in store.list_reviews(run_id=second)] == ["About the second run"]
        assert store.list_reviews(run_id=first) == []


def test_a_stored_comparison_is_listed_linked_and_its_report_offered(small_library):
    compare = open_page("dashboard/views/compare.py")
    compare.multiselect(key="pk_cmp_versions::tiny-menu").set_value([1, 2])
    compare.multiselect(key="pk_cmp_cases::tiny-menu").set_value(["quiche"])
    compare.number_input(key="pk_cmp_max_tokens").set_value(3)
    button(compare, "Run comparison").click()
    compare.run()
    with Store.open() as store:
        (comparison,) = store.list_comparisons()
    at = open_page(HISTORY)
    no_errors(at)
    picker = at.selectbox(key="pk_hist_comparison")
    assert picker.value == comparison.id and picker.format_func(comparison.id).startswith(f"#{comparison.id} · v1, v2 over 1 case")
    (link,) = [item for item in at.get("page_link") if item.proto.label == "Open it in Compare"]
    assert f"comparison={comparison.id}" in link.proto.query_string
    assert [item.proto.label for item in at.get("download_button")] == ["Download report (HTML)"]


def test_a_link_opens_its_run_and_a_bad_one_says_so(app_env):
    first, second = _seed_runs()
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params["run"] = str(first)
    at.switch_page(HISTORY)
    at.run()
    no_errors(at)
    assert at.selectbox(key="pk_hist_run").value == first and at.selectbox(key="pk_hist_family").value == "menu-analysis"
    assert any(f"?run={first}" in item.value for item in at.code)
    at.selectbox(key="pk_hist_run").set_value(second).run()
    assert at.query_params["run"] == str(second)  # the address bar follows the open run
    for link, message in (("999", "no run 999"), ("1 OR 1=1", "not a run number")):
        bad = AppTest.from_file(APP, default_timeout=300)
        bad.query_params["run"] = link
        bad.switch_page(HISTORY)
        bad.run()
        assert not bad.exception and message in bad.error[0].value
        assert not bad.dataframe


def test_runs_are_filtered_by_who_generated_them(small_library):
    compare = open_page("dashboard/views/compare.py")
    compare.sidebar.text_input(key="pk_person_name").set_value("Kim").run()
    compare.multiselect(key="pk_cmp_versions::tiny-menu").set_value([1, 2])
    compare.multiselect(key="pk_cmp_cases::tiny-menu").set_value(["quiche"])
    compare.number_input(key="pk_cmp_max_tokens").set_value(2)
    button(compare, "Run comparison").click()
    compare.run()
    with Store.open() as store:
        assert {run.created_by for run in store.list_runs()} == {"Kim"}
    at = open_page(HISTORY)
    at.selectbox(key="pk_hist_person").set_value("Kim").run()
    no_errors(at)
    assert len(at.dataframe[0].value) == 2
    at.sidebar.text_input(key="pk_person_name").set_value("Lou").run()  # Lou arrives, and has generated nothing
    at.selectbox(key="pk_hist_person").set_value("Lou").run()
    assert any("No runs match yet" in item.value for item in at.info)

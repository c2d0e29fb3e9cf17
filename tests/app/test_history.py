"""History & review page: filters, reviews saved and shown, the HTML report."""

from __future__ import annotations

from apphelpers import button, no_errors, open_page, review_widget, save_review

from dashboard.snippets import reviews_html
from promptkit.evaluation import matrix_from_runs
from promptkit.evaluation.report import add_section, render_report
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
            run = store.add_run(
                family="menu-analysis",
                version=version.number,
                model="tiny:gemma3",
                prompt=prompt,
                completion=f" It has eggs.\nRecommendation: <script>alert({version.number})</script>",
                variables=dict(case.values),
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
    assert at.get("download_button"), "the report download is offered"


def test_filters_by_version(app_env):
    first, second = _seed_runs()
    at = open_page(HISTORY)
    at.selectbox(key="pk_hist_family").set_value("menu-analysis").run()
    at.selectbox(key="pk_hist_version::menu-analysis").set_value(2).run()
    no_errors(at)
    assert list(at.dataframe[0].value["Run"]) == [second]


def test_with_every_family_listed_the_report_covers_the_newest_runs_family(app_env):
    _seed_runs()
    with Store.open() as store:  # Newer, but of no test case: nothing to report on.
        store.add_run(family="gsm8k-maths", version=1, model="tiny:gemma3", prompt="Q: 1+1?", completion=" 2", variables={})
    at = open_page(HISTORY)
    no_errors(at)
    assert at.selectbox(key="pk_hist_family").value == "(all)"
    assert any("**menu-analysis**, that of the newest test-case run" in item.value for item in at.caption)
    # Offered at once, without picking a family first.
    assert [item.proto.label for item in at.get("download_button")] == ["Download report (HTML)"]


def test_empty_history_says_what_to_do(app_env):
    at = open_page(HISTORY)
    no_errors(at)
    assert any("No runs match yet" in item.value for item in at.info)


def test_report_has_diffs_and_escaped_reviews(app_env):
    first, _ = _seed_runs()
    with Store.open() as store:
        store.add_review(run_id=first, verdict="bad", comment="<img src=x onerror=alert(1)>", reviewer="Ann")
        family = store.get_family(name="menu-analysis")
        runs = store.list_runs(family="menu-analysis")
        reviews = store.list_reviews()
    result = matrix_from_runs(family, runs)
    assert [version.number for version in result.versions] == [1, 2]
    report = add_section(render_report(result), reviews_html(reviews, {run.id: run for run in runs}))
    assert "<script>alert(1)</script>" not in report and "&lt;script&gt;alert(1)" in report
    assert "<img src=x" not in report and "&lt;img src=x onerror=alert(1)&gt;" in report
    assert report.index("Reviewers' notes") < report.lower().rindex("</body>")


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

"""Compare page: three versions over two cases in one batched run."""

from __future__ import annotations

from apphelpers import APP, button, no_errors, open_page, save_review
from streamlit.testing.v1 import AppTest

from promptkit.store import Store

COMPARE = "dashboard/views/compare.py"


def test_compare_three_versions_over_two_cases(small_library):
    at = open_page(COMPARE)
    no_errors(at)
    assert at.selectbox(key="pk_family").value == "tiny-menu"
    assert at.multiselect(key="pk_cmp_versions::tiny-menu").value == [1, 2, 3]
    at.multiselect(key="pk_cmp_cases::tiny-menu").set_value(["quiche", "fondue"])
    at.number_input(key="pk_cmp_max_tokens").set_value(6)
    button(at, "Run comparison").click()
    at.run()
    no_errors(at)

    table = at.dataframe[0].value
    assert list(table["Test case"]) == ["quiche", "fondue"]
    assert [column for column in table.columns if column != "Test case"] == [
        "v1 · plain",
        "v2 · with-dislikes",
        "v3 · polite",
    ]
    # Every cell was saved as a run, and each can be opened in the Salience page.
    with Store.open() as store:
        runs = store.list_runs(family="tiny-menu")
    assert len(runs) == 6
    assert {(run.version, run.case_id) for run in runs} == {(v, c) for v in (1, 2, 3) for c in ("quiche", "fondue")}
    salience_buttons = [item for item in at.button if item.label == "Why? (Salience)"]
    assert len(salience_buttons) == 6
    # Template diffs are one click away (expanders), with insertions marked.
    assert any("v2 · with-dislikes vs v1 · plain" in item.label for item in at.expander)
    assert any("<ins" in item.proto.body for item in at.get("html"))
    # Checks read in plain words, one per check and cell.
    checks = [item.value[2:].replace("\\", "") for item in at.caption if item.value[:1] in "✓✗"]  # Markdown-escaped
    assert len(checks) == 12 and checks.count("has a line starting Recommendation:") == 6
    assert sum(value.startswith("Recommendation: is “Avoid”") for value in checks) == 3


def test_compare_needs_two_versions(small_library):
    at = open_page(COMPARE)
    at.multiselect(key="pk_cmp_versions::tiny-menu").set_value([1])
    button(at, "Run comparison").click()
    at.run()
    assert at.error and "at least two versions" in at.error[0].value


def test_compare_says_when_max_new_tokens_is_too_small(small_library):
    at = open_page(COMPARE)
    at.number_input(key="pk_cmp_max_tokens").set_value(0)
    button(at, "Run comparison").click()
    at.run()
    assert not at.exception and "Max new tokens must be at least 1 (got 0)" in at.error[0].value
    with Store.open() as store:
        assert store.list_runs(family="tiny-menu") == []


def test_comparison_review_saved_and_shown_again(small_library):
    at = open_page(COMPARE)
    at.multiselect(key="pk_cmp_cases::tiny-menu").set_value(["quiche"])
    at.number_input(key="pk_cmp_max_tokens").set_value(4)
    button(at, "Run comparison").click()
    at.run()
    save_review(at, subject="comparison", verdict="good", comment="v2 fixes the quiche case.", name="Lee")
    no_errors(at)
    assert any("Review saved for this comparison" in item.value for item in at.success)
    assert any("**good** by Lee" in item.value for item in at.markdown)
    with Store.open() as store:
        (review,) = store.list_reviews(subject="compare tiny-menu v1,v2,v3 over quiche")
    assert (review.verdict, review.comment, review.run_id) == ("good", "v2 fixes the quiche case.", None)


def _run_labelled_comparison(samples: int):
    at = open_page(COMPARE)
    at.multiselect(key="pk_cmp_versions::tiny-menu").set_value([1, 2])
    at.multiselect(key="pk_cmp_cases::tiny-menu").set_value(["quiche", "fondue"])
    at.number_input(key="pk_cmp_max_tokens").set_value(4)
    at.number_input(key="pk_cmp_samples").set_value(samples)
    button(at, "Run comparison").click()
    return at.run()


def test_compare_shows_outcome_likelihoods_metrics_and_stability(small_library):
    at = _run_labelled_comparison(samples=2)
    no_errors(at)
    per_version = at.dataframe[1].value
    assert list(per_version["Version"]) == ["v1 · plain", "v2 · with-dislikes"]
    for column in ("Expected-outcome likelihood", "Accuracy", "Macro F1", "Agreement (stability)"):
        assert all(value != "–" for value in per_version[column]), column  # labelled cases, 2 samples: all measured
    captions = [item.value.replace("\\", "") for item in at.caption]  # Markdown-escaped
    likelihoods = [text for text in captions if text.startswith("P(")]
    assert len(likelihoods) == 4 and all("P(Avoid)" in text and "P(Likely good)" in text for text in likelihoods)
    agreement = [text for text in captions if text.startswith("Agreement ")]
    assert len(agreement) == 4 and all(text.endswith("over 2 samples") for text in agreement)
    assert len(at.get("plotly_chart")) >= 3  # summary, cell matrix and a confusion matrix per version
    with Store.open() as store:
        (comparison,) = store.list_comparisons()
    assert comparison.versions == (1, 2) and comparison.settings["samples"] == 2
    assert at.query_params["comparison"] == str(comparison.id)


def test_without_samples_no_stability_is_claimed(small_library):
    at = _run_labelled_comparison(samples=0)
    no_errors(at)
    assert set(at.dataframe[1].value["Agreement (stability)"]) == {"–"}
    assert not [item for item in at.caption if item.value.startswith("Agreement ")]


def test_a_link_reopens_the_comparison_without_the_model_and_a_bad_link_says_so(small_library):
    first = _run_labelled_comparison(samples=0)
    comparison_id = first.query_params["comparison"]
    table = first.dataframe[0].value
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params["comparison"] = comparison_id
    at.switch_page(COMPARE)
    at.run()
    no_errors(at)
    assert at.dataframe[0].value.equals(table)
    with Store.open() as store:
        assert len(store.list_runs(family="tiny-menu")) == 4  # opened from the store, nothing generated again
    for link, message in (("9999", "no comparison 9999"), ("1;DROP", "not a comparison number")):
        bad = AppTest.from_file(APP, default_timeout=300)
        bad.query_params["comparison"] = link
        bad.switch_page(COMPARE)
        bad.run()
        assert not bad.exception and message in bad.error[0].value
        assert not bad.dataframe  # nothing else shown


def test_a_ray_cluster_is_offered_only_when_one_is_configured(small_library, monkeypatch):
    monkeypatch.delenv("PROMPTKIT_RAY_ADDRESS", raising=False)
    at = open_page(COMPARE)
    no_errors(at)
    assert not [item for item in at.radio if item.label == "Run on"]
    monkeypatch.setenv("PROMPTKIT_RAY_ADDRESS", "ray://head.example:10001")
    at = open_page(COMPARE)
    no_errors(at)
    (where,) = [item for item in at.radio if item.label == "Run on"]
    assert where.options == ["This machine", "Ray cluster (ray://head.example:10001)"]
    assert where.value == "This machine"  # the model loaded here, unless the user picks the cluster

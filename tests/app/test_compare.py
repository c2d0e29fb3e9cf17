"""Compare page: three versions over two cases in one batched run."""

from __future__ import annotations

from apphelpers import button, no_errors, open_page, save_review

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

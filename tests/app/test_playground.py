"""Playground page: edit → save → generate; bad templates keep the user's text."""

from __future__ import annotations

from apphelpers import button, no_errors, open_page

from promptkit.generation import Completion, GeneratedToken, GenerationSettings, StopReason
from promptkit.store import Store
from promptkit.templates import default_templates_dir

PLAYGROUND = "dashboard/views/playground.py"


def test_defaults_are_the_menu_analysis_example(app_env):
    at = open_page(PLAYGROUND)
    no_errors(at)
    assert at.selectbox(key="pk_family").value == "menu-analysis"
    assert at.selectbox(key="pk_version::menu-analysis").value == 1
    assert at.selectbox(key="pk_case::menu-analysis").value == "quiche-cant-eat-eggs"
    assert at.text_input(key="pk_var::food_likes").value == "Cheese"
    assert at.text_input(key="pk_var::food_dislikes").value == "Can't eat eggs"
    assert at.text_input(key="pk_var::menu_item").value == "Quiche Lorraine"
    assert at.checkbox(key="pk_play_stop_blank").value is True
    assert at.text_area(key="pk_template_widget").value.startswith("Analyze a menu item")


def test_edit_save_generate(app_env):
    at = open_page(PLAYGROUND)
    template = at.text_area(key="pk_template_widget")
    template.set_value(template.value.replace("Analyze a menu item", "Carefully analyze a menu item"))
    at.text_input(key="pk_note").set_value("Ask for care")
    button(at, "Save as new version").click()
    at.run()
    no_errors(at)
    assert at.selectbox(key="pk_version::menu-analysis").value == 4
    assert any("Saved as version 4" in item.value for item in at.success)
    assert at.text_area(key="pk_template_widget").value.startswith("Carefully analyze")

    at.number_input(key="pk_play_max_tokens").set_value(12)  # the tiny model's context is 512
    button(at, "Generate").click()
    at.run()
    no_errors(at)
    run_id = at.session_state["pk_last_run"]
    with Store.open() as store:
        version = store.get_version(family="menu-analysis", version=4)
        run = store.get_run(run_id=run_id)
    assert version.note == "Ask for care" and version.parent == 1
    assert (run.family, run.version, run.case_id, run.model) == ("menu-analysis", 4, "quiche-cant-eat-eggs", "tiny:gemma3")
    assert run.prompt.startswith("Carefully analyze") and run.prompt.endswith("Suggestion: Quiche Lorraine\nAnalysis:")
    assert run.tokens and run.stop_reason
    assert any(f"Run #{run_id}" in item.value for item in at.caption)


def test_generate_unchanged_version_records_run_under_it(app_env):
    at = open_page(PLAYGROUND)
    at.text_input(key="pk_var::menu_item").set_value("Tiramisu")
    at.number_input(key="pk_play_max_tokens").set_value(12)
    button(at, "Generate").click()
    at.run()
    no_errors(at)
    with Store.open() as store:
        run = store.get_run(run_id=at.session_state["pk_last_run"])
    assert run.version == 1 and run.case_id is None  # own values, not the case
    assert "Suggestion: Tiramisu" in run.prompt
    assert run.variables["menu_item"] == "Tiramisu"


def test_bad_template_shows_error_and_keeps_text(app_env):
    at = open_page(PLAYGROUND)
    broken = "Analyze {{ menu_item | nosuchfilter }} and {% if %}"
    at.text_area(key="pk_template_widget").set_value(broken)
    button(at, "Generate").click()
    at.run()
    assert not at.exception
    assert at.error, "a bad template must show an error"
    assert "Traceback" not in at.error[0].value
    assert at.text_area(key="pk_template_widget").value == broken
    # Saving the broken text is refused too, and the text is still there.
    button(at, "Save as new version").click()
    at.run()
    assert at.error and at.text_area(key="pk_template_widget").value == broken
    with Store.open() as store:
        assert len(store.get_family(name="menu-analysis").versions) == 3
        assert store.list_runs() == []


def test_back_from_another_page_keeps_version_and_text(app_env):
    at = open_page(PLAYGROUND)
    template = at.text_area(key="pk_template_widget")
    template.set_value(template.value + "\n")
    button(at, "Save as new version").click()
    at.run()
    assert at.selectbox(key="pk_version::menu-analysis").value == 4
    at.switch_page("dashboard/views/history.py").run()
    at.switch_page(PLAYGROUND).run()
    no_errors(at)
    assert at.selectbox(key="pk_version::menu-analysis").value == 4
    assert at.text_area(key="pk_template_widget").value.endswith("Analysis:\n")


def test_step_scores_show_the_forks_of_the_last_run(app_env):
    at = open_page(PLAYGROUND)
    at.number_input(key="pk_play_max_tokens").set_value(10)
    button(at, "Generate").click()
    at.run()
    no_errors(at)
    charts = len(at.get("plotly_chart"))
    at.toggle(key="pk_steps").set_value(True).run()
    no_errors(at)
    assert len(at.get("plotly_chart")) == charts + 1
    with Store.open() as store:
        run = store.get_run(run_id=at.session_state["pk_last_run"])
    _, steps = at.session_state["pk_steps_cache"]
    assert [step.id for step in steps] == run.token_ids()
    # Random tiny weights are unsure everywhere: every token is a fork, listed in order.
    (table,) = at.dataframe
    assert list(table.value["token"]) == [step.text for step in steps if step.probability < 0.5 or step.rank > 1]
    assert len(table.value) > 0
    # A new run's scores replace the old ones: the session keeps one list.
    at.number_input(key="pk_play_max_tokens").set_value(6)
    button(at, "Generate").click()
    at.run()
    no_errors(at)
    (key, _), newest = at.session_state["pk_steps_cache"], at.session_state["pk_last_run"]
    assert newest != run.id and key[0] == newest


def test_step_scores_of_another_models_run_tokenize_its_text(app_env):
    with Store.open() as store:
        store.import_library(templates_dir=default_templates_dir())
        text = " it has eggs."
        completion = Completion(
            "Taste-likes: Cheese\nAnalysis:", text, (GeneratedToken(999_999, text, 0, len(text), -0.5),),
            StopReason.STOP_SEQUENCE, {},
        )
        run = store.add_run(
            family="menu-analysis", version=1, model="gemma2_instruct_2b_en", completion=completion, values={},
            settings=GenerationSettings(),
        )
    at = open_page(PLAYGROUND, state={"pk_last_run": run.id})
    at.toggle(key="pk_steps").set_value(True).run()
    no_errors(at)
    assert any("generated by gemma2_instruct_2b_en" in item.value for item in at.caption)
    _, steps = at.session_state["pk_steps_cache"]
    assert "".join(step.text for step in steps) == " it has eggs."


def test_an_empty_template_is_neither_saved_nor_run(app_env):
    at = open_page(PLAYGROUND)
    at.text_area(key="pk_template_widget").set_value("  \n")
    button(at, "Generate").click()
    at.run()
    assert not at.exception and at.error
    assert "prompt is empty" in at.error[0].value
    button(at, "Save as new version").click()
    at.run()
    assert any("template is empty" in item.value for item in at.error)
    assert at.text_area(key="pk_template_widget").value == "  \n"
    with Store.open() as store:
        assert len(store.get_family(name="menu-analysis").versions) == 3
        assert store.list_runs() == []


def test_a_new_blank_is_asked_for_before_generating(app_env):
    at = open_page(PLAYGROUND)
    at.text_area(key="pk_template_widget").set_value("Hello {{ guest }} and {{ menu_item }}.")
    at.number_input(key="pk_play_max_tokens").set_value(4)
    button(at, "Generate").click()
    at.run()
    no_errors(at)
    assert any("new blanks: guest" in item.value for item in at.warning)
    with Store.open() as store:
        assert store.list_runs() == [] and len(store.get_family(name="menu-analysis").versions) == 3
    at.text_input(key="pk_var::guest").set_value("Ann")
    button(at, "Generate").click()
    at.run()
    no_errors(at)
    with Store.open() as store:
        run = store.get_run(run_id=at.session_state["pk_last_run"])
    assert run.prompt == "Hello Ann and Quiche Lorraine." and run.version == 4


def test_out_of_range_settings_say_what_to_fix(app_env):
    at = open_page(PLAYGROUND)
    at.number_input(key="pk_play_max_tokens").set_value(0)
    button(at, "Generate").click()
    at.run()
    assert not at.exception
    assert any("max_new_tokens must be at least 1" in item.value for item in at.error)
    at.number_input(key="pk_play_max_tokens").set_value(5)
    at.number_input(key="pk_play_temperature").set_value(-1.0)
    button(at, "Generate").click()
    at.run()
    assert any("temperature must be 0" in item.value for item in at.error)
    with Store.open() as store:
        assert store.list_runs() == []


def test_unsaved_edits_survive_switching_versions_and_pages(app_env):
    at = open_page(PLAYGROUND)
    version_picker = lambda: at.selectbox(key="pk_version::menu-analysis")  # noqa: E731
    original = at.text_area(key="pk_template_widget").value
    edited = original.replace("Analyze a menu item", "Judge a menu item")
    at.text_area(key="pk_template_widget").set_value(edited).run()  # the field loses focus
    version_picker().set_value(2).run()
    no_errors(at)
    assert at.text_area(key="pk_template_widget").value.startswith("Analyze a menu item")
    assert "unsaved edits" in version_picker().options[0] and "unsaved edits" not in version_picker().options[1]

    at.switch_page("dashboard/views/history.py").run()
    at.switch_page(PLAYGROUND).run()
    version_picker().set_value(1).run()
    no_errors(at)
    assert at.text_area(key="pk_template_widget").value == edited
    assert any("Unsaved edits" in item.value for item in at.caption)

    button(at, "Discard my edits").click().run()
    no_errors(at)
    assert at.text_area(key="pk_template_widget").value == original
    assert not any("Unsaved edits" in item.value for item in at.caption)
    with Store.open() as store:
        assert len(store.get_family(name="menu-analysis").versions) == 3


def test_a_saved_edit_is_no_longer_a_draft(app_env):
    at = open_page(PLAYGROUND)
    template = at.text_area(key="pk_template_widget")
    template.set_value(template.value + "\n").run()
    button(at, "Save as new version").click().run()
    no_errors(at)
    picker = at.selectbox(key="pk_version::menu-analysis")
    assert picker.value == 4
    assert not any("unsaved edits" in option for option in picker.options)
    picker.set_value(1).run()
    assert at.text_area(key="pk_template_widget").value.startswith("Analyze a menu item")
    assert not at.text_area(key="pk_template_widget").value.endswith("\n")


def test_a_new_blank_shown_but_left_empty_is_still_asked_for(app_env):
    # In a browser the field can appear (the text area's own rerun) just before Generate arrives.
    at = open_page(PLAYGROUND)
    at.text_area(key="pk_template_widget").set_value("Hello {{ guest }} and {{ menu_item }}.").run()
    assert at.text_input(key="pk_var::guest").value == ""
    at.number_input(key="pk_play_max_tokens").set_value(4)
    button(at, "Generate").click().run()
    no_errors(at)
    assert any("new blanks: guest" in item.value for item in at.warning)
    button(at, "Generate").click().run()  # Asked once: left empty on purpose, it runs.
    no_errors(at)
    with Store.open() as store:
        assert store.get_run(run_id=at.session_state["pk_last_run"]).prompt == "Hello  and Quiche Lorraine."

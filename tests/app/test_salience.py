"""Salience page: the text coloured from cached scores; switching the view never recomputes."""

from __future__ import annotations

import html
import re

from apphelpers import no_errors, open_page

from dashboard import model_sidebar
from dashboard.state import KEY_SALIENCE_RUN, KEY_SALIENCE_RUN_B
from promptkit.generation import Completion, GenerationSettings, StopReason
from promptkit.salience import contrast_method_names, get_method, method_names
from promptkit.store import Store
from promptkit.templates import default_templates_dir, render_template

SALIENCE = "dashboard/views/salience.py"


def _seed(completions: dict[int, str]) -> dict[int, int]:
    """Stores one run per version of the small family; returns version → run id."""
    with Store.open() as store:
        store.import_library(templates_dir=default_templates_dir())
        family = store.get_family(name="tiny-menu")
        case = family.cases[0]
        ids = {}
        for version in family.versions:
            if version.number in completions:
                prompt = render_template(version.text, case.values).text
                run = store.add_run(
                    family="tiny-menu",
                    version=version.number,
                    model="tiny:gemma3",
                    completion=Completion(prompt, completions[version.number], (), StopReason.STOP_SEQUENCE, {}),
                    values=case.values,
                    settings=GenerationSettings(),
                    case_id=case.id,
                )
                ids[version.number] = run.id
        return ids


def _texts(at, kind: str = "pk-salience-text") -> list[str]:
    """The HTML bodies of the salience texts shown (`pk-salience-ab` for the A/B view)."""
    return [item.proto.body for item in at.get("html") if f'class="{kind}"' in item.proto.body]


def _engine_calls() -> int:
    return sum(engine.gradient_calls for engine in model_sidebar._registry().salience_engines())


def test_granularity_switch_does_not_recompute(small_library):
    ids = _seed({1: " Avoid.\nBecause of the eggs.", 2: " Avoid."})
    at = open_page(SALIENCE, state={KEY_SALIENCE_RUN: ids[1]})
    no_errors(at)
    assert at.selectbox(key="pk_sal_run").value == ids[1]
    # The default target is the whole completion here (the line is "Avoid.", no prefix).
    assert at.selectbox(key=f"pk_sal_line::{ids[1]}").value == "(the whole completion)"
    assert at.selectbox(key="pk_sal_granularity").value == "parts"
    assert len(_texts(at)) == 1 and len(at.get("plotly_chart")) == 1  # the text, coloured; the top pieces
    calls = _engine_calls()
    assert calls >= 1

    for granularity in ("words", "tokens", "sentences", "lines", "paragraphs", "parts"):
        at.selectbox(key="pk_sal_granularity").set_value(granularity).run()
        no_errors(at)
        assert len(_texts(at)) == 1
    at.selectbox(key="pk_sal_aggregation").set_value("max").run()
    at.slider(key="pk_sal_gain").set_value(0.9).run()
    at.toggle(key="pk_sal_self").set_value(True).run()
    no_errors(at)
    assert _engine_calls() == calls, "changing the view must reuse cached scores"

    # A new target does reach the model.
    at.selectbox(key=f"pk_sal_line::{ids[1]}").set_value("Because of the eggs.").run()
    no_errors(at)
    assert _engine_calls() == calls + 1
    with Store.open() as store:
        assert store.get_salience(run_id=ids[1], target_start=8, target_end=28, method="grad_l2") is not None


def test_ab_view_and_downloads(small_library):
    ids = _seed({1: " Avoid.", 3: " Likely good."})
    at = open_page(SALIENCE, state={KEY_SALIENCE_RUN: ids[3], KEY_SALIENCE_RUN_B: ids[1]})
    no_errors(at)
    assert at.toggle(key="pk_sal_ab").value is True
    assert at.selectbox(key="pk_sal_run_b").value == ids[1]
    assert len(at.get("plotly_chart")) == 1 and len(_texts(at)) == 1  # top segments; the text
    (both,) = _texts(at, "pk-salience-ab")
    assert both.count('class="pk-shaded-text"') == 2 and both.count('class="pk-colour-legend"') == 1  # one scale
    assert any("Template part" in frame.value.columns for frame in at.dataframe)
    labels = [item.label for item in at.get("download_button")]
    assert labels == [
        "Download token scores (CSV)",
        "Download parts scores (CSV)",
        "Download all scores (JSON)",
    ]


def test_reference_text_target(small_library):
    ids = _seed({1: " Avoid."})
    at = open_page(SALIENCE, state={KEY_SALIENCE_RUN: ids[1]})
    at.radio(key="pk_sal_target_kind").set_value("A reference text I type").run()
    assert any("Type a reference text" in item.value for item in at.info)
    at.text_area(key="pk_sal_reference").set_value(" Not suitable for you.")
    next(b for b in at.button if b.label == "Explain this text").click()
    at.run()
    no_errors(at)
    (text,) = _texts(at)
    assert "Not suitable for you." in html.unescape(text)


def test_no_runs_says_what_to_do(app_env):
    at = open_page(SALIENCE)
    no_errors(at)
    assert any("No runs to explain yet" in item.value for item in at.info)


def test_integrated_gradients_says_how_complete_its_attributions_are(small_library):
    ids = _seed({1: " Avoid."})
    at = open_page(SALIENCE, state={KEY_SALIENCE_RUN: ids[1]})
    at.selectbox(key="pk_sal_method").set_value("integrated_gradients").run()
    no_errors(at)
    notes = [item.value for item in (*at.caption, *at.warning) if item.value.startswith("Integrated gradients:")]
    assert len(notes) == 1 and "completeness error" in notes[0]


def test_contrast_explains_the_answer_against_an_alternative(small_library):
    ids = _seed({1: " Avoid.\nBecause of the eggs.", 2: " Avoid."})
    at = open_page(SALIENCE, state={KEY_SALIENCE_RUN: ids[1]})
    at.selectbox(key="pk_sal_method").set_value("integrated_gradients").run()
    calls = _engine_calls()
    at.text_input(key="pk_sal_contrast").set_value("You have to try it.").run()
    no_errors(at)
    # Integrated gradients has no contrastive form: the method falls back to one that has.
    assert at.selectbox(key="pk_sal_method").options == [get_method(name).title for name in contrast_method_names()]
    assert at.selectbox(key="pk_sal_method").options == ["grad l2", "grad dot input"]
    assert at.selectbox(key="pk_sal_method").value == "grad_l2"
    assert any("does not contrast" in item.value for item in at.caption)  # said, not done silently
    assert _engine_calls() == calls + 2  # The answer's sequence and the alternative's.
    odds = [item.value for item in at.info if item.value.startswith("The model finds")]
    assert len(odds) == 1 and '"You have to try it."' in odds[0]
    at.selectbox(key=f"pk_sal_line::{ids[1]}").set_value("Because of the eggs.").run()
    no_errors(at)
    assert _engine_calls() == calls + 4
    with Store.open() as store:  # Contrastive scores are not stored as the line's salience.
        assert store.get_salience(run_id=ids[1], target_start=8, target_end=28, method="grad_l2") is None
    at.toggle(key="pk_sal_ab").set_value(True).run()
    no_errors(at)
    assert len(_texts(at, "pk-salience-ab")) == 1 and _engine_calls() == calls + 6
    at.text_input(key="pk_sal_contrast").set_value("   ").run()
    no_errors(at)
    assert not [item for item in at.info if item.value.startswith("The model finds")]
    assert at.selectbox(key="pk_sal_method").value == "integrated_gradients"  # the user's pick is back
    at.text_input(key="pk_sal_contrast").set_value("Because of the eggs.").run()
    assert not at.exception
    assert any("is the explained text itself" in item.value for item in at.error)


def test_words_picked_in_the_completion_are_the_explained_span(small_library, tiny_gemma3):
    ids = _seed({1: " Avoid.\nBecause of the eggs."})
    at = open_page(SALIENCE, state={KEY_SALIENCE_RUN: ids[1]})
    at.radio(key="pk_sal_target_kind").set_value("Words I pick in the completion").run()
    no_errors(at)
    slider = at.select_slider(key=f"pk_sal_words::{ids[1]}")
    assert slider.options == ["1: Avoid.", "2: Because", "3: of", "4: the", "5: eggs."]
    assert tuple(slider.value) == ("5: eggs.", "5: eggs.")  # The last word until the user moves the ends.
    slider.set_range("3: of", "4: the").run()
    no_errors(at)
    with Store.open() as store:
        run = store.get_run(run_id=ids[1])
        # "of" starts at character 16 and "the" ends at 22; the span is the extent of their tokens.
        tokens = tiny_gemma3.token_spans(tiny_gemma3.tokenize(run.completion), source=run.completion)
        start = next(t.start for t in tokens if t.end > 16)
        end = next(t.end for t in tokens if t.end >= 22)
        assert run.completion[start:end].strip() == "of the"
        assert store.get_salience(run_id=ids[1], target_start=start, target_end=end, method="grad_l2") is not None


def test_occlusion_leaves_each_template_part_out(small_library):
    ids = _seed({1: " Avoid.\nBecause of the eggs.", 2: " Avoid."})
    at = open_page(SALIENCE, state={KEY_SALIENCE_RUN: ids[1], KEY_SALIENCE_RUN_B: ids[2]})
    at.selectbox(key="pk_sal_method").set_value("occlusion").run()
    no_errors(at)
    assert at.selectbox(key="pk_sal_aggregation").disabled  # Pieces are scored whole.
    assert any("Each piece was left out in turn" in item.value for item in at.caption)
    engine = model_sidebar._registry().salience_engines()[0]
    with Store.open() as store:
        run = store.get_run(run_id=ids[1])
        parts = store.template_parts(run=run)
    result = engine.explain_occlusion(run.prompt, run.completion, granularity="parts", parts=parts)
    assert result.details["pieces"] == len({p.start for p in parts if p.end <= len(run.prompt)}) > 1
    top = at.get("plotly_chart")[0].proto.spec  # Top segments, named by their parts.
    assert any(part.name in top for part in parts)
    at.toggle(key="pk_sal_ab").set_value(True).run()
    assert not at.exception
    with Store.open() as store:  # Occlusion scores are not stored as the run's salience.
        assert [record.method for record in store.list_salience(run_ids=[ids[1]])] == ["grad_l2"]


def test_my_own_pattern_cuts_the_pieces_and_a_bad_one_is_said(small_library):
    ids = _seed({1: " Avoid.\nBecause of the eggs."})
    at = open_page(SALIENCE, state={KEY_SALIENCE_RUN: ids[1]})
    at.selectbox(key="pk_sal_granularity").set_value("custom").run()
    no_errors(at)
    assert at.text_input(key="pk_sal_pattern").value == r"\n+"
    at.text_input(key="pk_sal_pattern").set_value(":").run()
    no_errors(at)
    assert [item.proto.label for item in at.get("download_button")][1] == "Download custom scores (CSV)"
    at.text_input(key="pk_sal_pattern").set_value("(unclosed").run()
    assert not at.exception
    assert any("not a valid regular expression" in item.value for item in at.error)
    assert at.text_input(key="pk_sal_pattern").value == "(unclosed"


def test_occlusion_too_fine_for_one_pass_per_piece_says_so(app_env):
    with Store.open() as store:
        store.import_library(templates_dir=default_templates_dir())
        prompt = "Dish: " + "quiche " * 150 + "\nVerdict:"
        run = store.add_run(
            family="menu-analysis", version=1, model="tiny:gemma3",
            completion=Completion(prompt, " Avoid.", (), StopReason.STOP_SEQUENCE, {}), values={},
            settings=GenerationSettings(),
        )
    at = open_page(SALIENCE, state={KEY_SALIENCE_RUN: run.id})
    at.selectbox(key="pk_sal_method").set_value("occlusion").run()
    at.selectbox(key="pk_sal_granularity").set_value("words").run()
    assert not at.exception
    assert any("choose a coarser granularity" in item.value for item in at.error)
    assert not at.get("progress")  # The bar goes with the failure.
    at.selectbox(key="pk_sal_granularity").set_value("lines").run()
    no_errors(at)


def test_the_method_menu_and_legend_are_the_declared_ones(small_library):
    ids = _seed({1: " Avoid."})
    at = open_page(SALIENCE, state={KEY_SALIENCE_RUN: ids[1]})
    no_errors(at)
    menu = at.selectbox(key="pk_sal_method")
    assert menu.options == [get_method(name).title for name in method_names()]
    for name in ("grad_l2", "grad_dot_input", "occlusion"):
        at.selectbox(key="pk_sal_method").set_value(name).run()
        no_errors(at)
        method = get_method(name)
        captions = [item.value for item in at.caption]
        assert method.legend in captions and any(caption.startswith(f"Method: {method.title} ·") for caption in captions)
        assert at.selectbox(key="pk_sal_aggregation").disabled == (len(method.aggregations) == 1)


def test_the_text_shown_is_the_prompt_and_answer_exactly_in_any_language(small_library):
    answer = " کتاب‌ها را خواندم.\r\nשלום 👩\u200d🍳 이 요리 这道菜 <script>alert(1)</script>"
    ids = _seed({1: answer})
    at = open_page(SALIENCE, state={KEY_SALIENCE_RUN: ids[1]})
    at.selectbox(key="pk_sal_granularity").set_value("words").run()
    no_errors(at)
    (body,) = _texts(at)
    with Store.open() as store:
        run = store.get_run(run_id=ids[1])
    pieces = [html.unescape(text) for text in re.findall(r"<span data-piece=[^>]*>([^<]*)</span>", body)]
    assert "".join(pieces) == run.prompt + answer
    assert " 👩\u200d🍳" in pieces  # one piece, the emoji sequence whole
    assert "<script>" not in body and "&lt;script&gt;" in body

"""Playground: pick a template version, edit it, fill its variables, generate."""

import streamlit as st

import ui_glue as ui
import ui_widgets as widgets
from promptkit.evaluation import record_playground_run
from promptkit.presentation import pre_html, token_shading_html, version_label
from promptkit.steps import completion_steps, fork_rows, step_scores_figure
from promptkit.templates import detect_variables, render_template

ui.ensure_frame()
st.title("Playground")
st.caption(
    "Pick a prompt template, fill in its blanks, and press **Generate**. Edit the template and "
    "press **Save as new version** to keep your change. Every run is saved to *History & review*."
)
ui.notice()
_KEY_NEW_BLANKS = "pk_play_new_blanks"  # new, empty blanks a Generate stopped for
# Blanks the user has had the chance to fill: the loaded version's, and those
# of every Generate so far. A Generate that finds another one still empty
# stops and asks for it first.
_KEY_KNOWN_BLANKS = "pk_play_known_blanks"
blanks_to_fill = st.session_state.pop(_KEY_NEW_BLANKS, None)
if blanks_to_fill:
    st.warning(
        f"Your template has new blanks: {', '.join(blanks_to_fill)}. Fill them in under "
        "**Blanks to fill in** and press **Generate** again."
    )

model = ui.get_model()
store, families = ui.store_and_families()
if not families:
    st.info("The template library is empty: add a YAML file to templates/ and reload.")
    st.stop()

# --- Which template ------------------------------------------------------------
names = list(families)
if st.session_state.get(ui.KEY_FAMILY) not in families:
    st.session_state[ui.KEY_FAMILY] = ui.DEFAULT_FAMILY if ui.DEFAULT_FAMILY in families else names[0]
left, middle, right = st.columns([2, 2, 3])
family_name = left.selectbox("Template family", names, key=ui.KEY_FAMILY)
family = families[family_name]

numbers = [version.number for version in family.versions]
by_number = {version.number: version for version in family.versions}
version_key = f"{ui.KEY_VERSION}::{family_name}"
pending = st.session_state.pop(ui.KEY_PENDING_VERSION, None)
if pending in by_number:
    st.session_state[version_key] = pending
source = st.session_state.get(ui.KEY_TEMPLATE_SOURCE)
if st.session_state.get(version_key) not in by_number and source and source[0] == family_name and source[1] in by_number:
    st.session_state[version_key] = source[1]  # back from another page: same version, same text
if st.session_state.get(version_key) not in by_number:
    labelled = [v.number for v in family.versions if v.label == ui.DEFAULT_VERSION_LABEL]
    st.session_state[version_key] = labelled[0] if labelled else numbers[-1]
# Unsaved edits, per version: they survive reruns, errors, page switches
# and switching to another version and back.
drafts = ui.template_drafts()
number = middle.selectbox(
    "Version",
    numbers,
    format_func=lambda n: version_label(by_number[n]) + (" · unsaved edits" if (family_name, n) in drafts else ""),
    key=version_key,
)
version = by_number[number]
if version.note:
    right.caption(f"**What changed:** {version.note}")

if st.session_state.get(ui.KEY_TEMPLATE_SOURCE) != (family_name, number):
    st.session_state[ui.KEY_TEMPLATE_SOURCE] = (family_name, number)
    st.session_state[ui.KEY_TEMPLATE_TEXT] = drafts.get((family_name, number), version.text)
    st.session_state.pop(ui.KEY_TEMPLATE_WIDGET, None)
    st.session_state.pop(_KEY_KNOWN_BLANKS, None)  # Set below, to the loaded text's blanks.
template_text = st.session_state[ui.KEY_TEMPLATE_TEXT]
if ui.KEY_TEMPLATE_WIDGET not in st.session_state:
    st.session_state[ui.KEY_TEMPLATE_WIDGET] = template_text

# --- Test case to pre-fill the variables ---------------------------------------
cases = {case.id: case for case in family.cases}
case_options = ["(type my own values)", *cases]
case_key = f"{ui.KEY_CASE}::{family_name}"
if st.session_state.get(case_key) not in case_options:
    st.session_state[case_key] = ui.DEFAULT_CASE if ui.DEFAULT_CASE in cases else case_options[min(1, len(cases))]


def _fill_from_case() -> None:
    case = cases.get(st.session_state[case_key])
    if case is not None:
        for name, value in case.values.items():
            st.session_state[f"pk_var::{name}"] = str(value)


try:
    variables = detect_variables(template_text)
except Exception as error:  # noqa: BLE001 - shown, and the text is kept.
    ui.show_error(error)
    variables = []
st.session_state.setdefault(_KEY_KNOWN_BLANKS, {variable.name for variable in variables})
initial_case = cases.get(st.session_state[case_key])
for variable in variables:
    widget_key = f"pk_var::{variable.name}"
    if widget_key not in st.session_state:
        saved = st.session_state.get(ui.KEY_VALUES, {}).get(variable.name)
        st.session_state[widget_key] = saved if saved is not None else str(
            (initial_case.values.get(variable.name, "") if initial_case else "")
        )

st.selectbox(
    "Fill the blanks from a test case",
    case_options,
    key=case_key,
    on_change=_fill_from_case,
    help="Test cases are example inputs stored with the template family.",
)

# --- The template and the blanks. No form: an edit reaches the server when
# its field loses focus, so the template is kept as a draft, and a button
# clicked straight after typing gets the typed text (Streamlit sends a pending
# edit before the click; a form's submit button could lose a click made while
# the template field's own rerun ran).
text_column, values_column = st.columns([3, 2])
with text_column:
    st.text_area(
        "Template (write {{ name }} for a blank to fill in)",
        key=ui.KEY_TEMPLATE_WIDGET,
        height=480,
        on_change=ui.keep_template_draft,
        args=(family_name, number, version.text),
    )
    if (family_name, number) in drafts:
        st.caption("Unsaved edits: kept while you switch versions or pages. **Save as new version** keeps them for good.")
        st.button(
            "Discard my edits", key="pk_discard_draft", icon=":material/undo:",
            on_click=ui.discard_template_draft, args=(family_name, number, version.text),
        )
with values_column, st.container(border=True):
    st.markdown("**Blanks to fill in**")
    if not variables:
        st.caption("This template has no blanks.")
    for variable in variables:
        widget = st.text_area if variable.multiline else st.text_input
        widget(variable.name.replace("_", " ").capitalize(), key=f"pk_var::{variable.name}")
    settings_error = None
    try:
        settings = widgets.settings_widgets(version.generation, key="pk_play")
    except Exception as error:  # noqa: BLE001
        settings, settings_error = None, error
    shade = st.checkbox("Shade each generated word by how sure the model was", value=True, key="pk_shade")
    note = st.text_input(
        "Note for a new version (what changed and why)", key="pk_note", placeholder="e.g. fixed the first example"
    )
    generate_col, save_col = st.columns(2)
    generate = generate_col.button("Generate", type="primary", width="stretch", key="pk_generate")
    save = save_col.button("Save as new version", width="stretch", key="pk_save_version")

if generate or save:
    text = st.session_state[ui.KEY_TEMPLATE_WIDGET]
    st.session_state[ui.KEY_TEMPLATE_TEXT] = text
    values = {v.name: st.session_state.get(f"pk_var::{v.name}", "") for v in variables}
    st.session_state[ui.KEY_VALUES] = {**st.session_state.get(ui.KEY_VALUES, {}), **values}

if save:
    with ui.guard():
        if text == version.text:
            st.info("The template is unchanged, so there is nothing new to save.")
        else:
            saved = store.add_version(
                family=family_name,
                text=text,
                author="dashboard",
                note=note.strip() or "Edited in the Playground.",
                parent=number,
            )
            ui.template_saved(family_name, parent=number, saved=saved.number)
            st.session_state[ui.KEY_NOTICE] = f"Saved as version {saved.number} of {family_name}."
            st.rerun()

if generate:
    if settings_error is not None:
        ui.show_error(settings_error)
    elif model is None:
        st.error("No model is loaded; pick one in the sidebar.")
    else:
        with ui.guard():
            variables = detect_variables(text)
            known = st.session_state.setdefault(_KEY_KNOWN_BLANKS, set())
            new_blanks = [
                v.name for v in variables if v.name not in known and not st.session_state.get(f"pk_var::{v.name}", "").strip()
            ]
            known.update(v.name for v in variables)
            if new_blanks:
                # Rendering now would fill them with nothing, unasked.
                st.session_state[_KEY_NEW_BLANKS] = new_blanks
                st.rerun()
            values = {v.name: st.session_state.get(f"pk_var::{v.name}", "") for v in variables}
            rendered = render_template(text, values)
            # Generated before the edit is saved: a prompt the model refuses
            # (empty, too long) leaves no version behind.
            bar = st.progress(0.0, text=f"Generating with {model.info.name}…")
            try:
                completion = model.generate(
                    [rendered.text], settings=settings,
                    on_progress=lambda done: bar.progress(done, text=f"Generating with {model.info.name}… {done:.0%}"),
                )[0]
            finally:
                bar.empty()
            run, saved = record_playground_run(
                store, family=family_name, parent=version, text=text, note=note, model=model.info.name,
                completion=completion, values=values, settings=settings, case=cases.get(st.session_state[case_key]),
            )
            st.session_state[ui.KEY_LAST_RUN] = run.id
            if saved is not None:
                ui.template_saved(family_name, parent=number, saved=saved)
                st.session_state[ui.KEY_NOTICE] = f"Your edits were saved as version {saved}, and the run is recorded under it."
                st.rerun()

# --- The last result -------------------------------------------------------------
last_run_id = st.session_state.get(ui.KEY_LAST_RUN)
if last_run_id is not None:
    with ui.guard():
        run = store.get_run(run_id=last_run_id)
        st.subheader("Completion")
        st.caption(
            f"Run #{run.id} · {run.family} v{run.version} · {run.model} · stopped because: "
            f"{(run.stop_reason or '').replace('_', ' ')} · "
            f"{run.timings.get('new_tokens', 0):.0f} tokens in {run.timings.get('total_s', 0):.1f} s"
        )
        if not run.completion.strip():
            st.warning("The model produced no text before stopping. Try more new tokens or another stop text.")
        if st.session_state.get("pk_shade", True) and run.tokens:
            st.html(token_shading_html(run.stored_tokens()))
            st.caption("Darker = the model was less sure of that word. Hover for its probability.")
        else:
            st.html(pre_html(run.completion))
        if model is not None and run.completion.strip() and st.toggle(
            "Step scores: where could the completion have gone another way?", key="pk_steps",
            help="For every token: how likely it was, how unsure the model was (entropy) and what else it "
            "considered. One more pass over prompt and completion.",
        ):
            # The shown run's scores only: a session that steps through many
            # runs keeps one score list, not one per run.
            steps_key = (run.id, model.info.name)
            cached = st.session_state.get("pk_steps_cache")
            if cached is None or cached[0] != steps_key:
                with st.spinner("Scoring every step of the completion…"):
                    cached = (steps_key, completion_steps(
                        ui.scorer(model), model, prompt=run.prompt, completion=run.completion,
                        # Another model's ids name other pieces: its text is tokenized afresh.
                        token_ids=run.token_ids() if run.model == model.info.name else None,
                    ))
                st.session_state["pk_steps_cache"] = cached
            steps = cached[1]
            if run.model != model.info.name:
                st.caption(f"This run was generated by {run.model}; step scores are computed with {model.info.name}.")
            st.plotly_chart(step_scores_figure(steps), width="stretch", config={"displayModeBar": False}, key="pk_steps_chart")
            rows = fork_rows(steps, run.completion)
            if rows:
                st.markdown("**Forks: where another token was likely too**")
                st.dataframe(
                    rows, hide_index=True, width="stretch",
                    column_config={"probability": st.column_config.ProgressColumn("probability", min_value=0.0, max_value=1.0, format="%.2f")},
                )
            else:
                st.caption("No forks: every token was the model's clear first choice (p ≥ 0.5).")
        with st.expander("The prompt the model saw"):
            st.html(pre_html(run.prompt))
        if st.button("Explain this completion (Salience)", key="pk_to_salience", icon=":material/insights:"):
            st.session_state[ui.KEY_SALIENCE_RUN] = run.id
            st.switch_page("pages/salience.py")

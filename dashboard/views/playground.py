"""Playground: pick a template version, edit it, fill its variables, generate."""

import streamlit as st

from dashboard import playground_view as view
from dashboard.messages import notice, show_error
from dashboard.model_sidebar import get_model
from dashboard.snippets import version_label
from dashboard.state import KEY_FAMILY, KEY_TEMPLATE_TEXT, KEY_TEMPLATE_WIDGET, KEY_VALUES, preselect_family
from dashboard.store_access import store_and_families
from dashboard.template_drafts import discard_template_draft, keep_template_draft, template_drafts
from dashboard.widgets import settings_widgets

st.title("Playground")
st.caption(
    "Pick a prompt template, fill in its blanks, and press **Generate**. Edit the template and "
    "press **Save as new version** to keep your change. Every run is saved to *History & review*."
)
notice()
view.new_blanks_warning()

model = get_model()
store, families = store_and_families()
if not families:
    st.info("The template library is empty: add a YAML file to templates/ and reload.")
    st.stop()

# --- Which template ------------------------------------------------------------
names = list(families)
preselect_family(names)
left, middle, right = st.columns([2, 2, 3])
family_name = left.selectbox("Template family", names, key=KEY_FAMILY)
family = families[family_name]

by_number = {version.number: version for version in family.versions}
version_key = view.preselect_version(family)
# Unsaved edits, per version: they survive reruns, errors, page switches
# and switching to another version and back.
drafts = template_drafts()
number = middle.selectbox(
    "Version",
    list(by_number),
    format_func=lambda n: version_label(by_number[n]) + (" · unsaved edits" if (family_name, n) in drafts else ""),
    key=version_key,
)
version = by_number[number]
if version.note:
    right.caption(f"**What changed:** {version.note}")
template_text = view.load_version_text(family_name, number, version.text)

# --- Test case to pre-fill the variables ---------------------------------------
cases = {case.id: case for case in family.cases}
case_key, case_options = view.preselect_case(family_name, cases)
variables = view.template_blanks(template_text)
view.prefill_blanks(variables, cases.get(st.session_state[case_key]))
st.selectbox(
    "Fill the blanks from a test case",
    case_options,
    key=case_key,
    on_change=view.fill_from_case,
    args=(cases, case_key),
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
        key=KEY_TEMPLATE_WIDGET,
        height=480,
        on_change=keep_template_draft,
        args=(family_name, number, version.text),
    )
    if (family_name, number) in drafts:
        st.caption("Unsaved edits: kept while you switch versions or pages. **Save as new version** keeps them for good.")
        st.button(
            "Discard my edits", key="pk_discard_draft", icon=":material/undo:",
            on_click=discard_template_draft, args=(family_name, number, version.text),
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
        settings = settings_widgets(version.generation, key="pk_play")
    except Exception as error:  # noqa: BLE001
        settings, settings_error = None, error
    st.checkbox("Shade each generated word by how sure the model was", value=True, key="pk_shade")
    note = st.text_input(
        "Note for a new version (what changed and why)", key="pk_note", placeholder="e.g. fixed the first example"
    )
    generate_col, save_col = st.columns(2)
    generate = generate_col.button("Generate", type="primary", width="stretch", key="pk_generate")
    save = save_col.button("Save as new version", width="stretch", key="pk_save_version")

if generate or save:
    text = st.session_state[KEY_TEMPLATE_WIDGET]
    st.session_state[KEY_TEMPLATE_TEXT] = text
    values = {v.name: st.session_state.get(f"pk_var::{v.name}", "") for v in variables}
    st.session_state[KEY_VALUES] = {**st.session_state.get(KEY_VALUES, {}), **values}

if save:
    view.save_as_new_version(store, family_name, version, text=text, note=note)

if generate:
    if settings_error is not None:
        show_error(settings_error)
    elif model is None:
        st.error("No model is loaded; pick one in the sidebar.")
    else:
        view.generate_and_record(
            model, store, family_name, version, text=text, note=note, settings=settings,
            case=cases.get(st.session_state[case_key]),
        )

view.last_run(store, model)

"""Tune: train a LoRA adapter on a family's labelled cases, watch it learn, judge it before and after."""

import math

import streamlit as st

from dashboard.identity import acting_key
from dashboard.messages import guard, notice
from dashboard.model_sidebar import get_model
from dashboard.snippets import version_label
from dashboard.state import KEY_COMPARE_ADAPTER, KEY_FAMILY, KEY_NOTICE, KEY_TUNED_ADAPTER
from dashboard.store_access import store_and_families
from dashboard.tune_view import LiveTraining, cancelled_training_notice, show_adapter
from promptkit.models.loader import adapter_model_name
from promptkit.models.lora import TrainingSettings
from promptkit.workflows import TuneRequest, prepare_tuning, run_tuning, suggest_adapter_name

st.title("Tune an adapter")
st.caption(
    "When prompt fixes stop helping, train a small LoRA adapter on the family's labelled cases: it learns from "
    "the train split, stops early on the validation split, and is judged on the test split before and after. "
    "Training works on a copy of the model's weights, so everyone keeps generating meanwhile."
)
notice()

model = get_model()
store, families = store_and_families()
labelled = [name for name, family in families.items() if family.candidate_labels and any(c.expect for c in family.cases)]
if not labelled:
    st.info("No family has labelled cases (candidate labels and cases with `expect: labels`) to train on.")
    st.stop()
if st.session_state.get("pk_tune_family") not in labelled:
    picked = st.session_state.get(KEY_FAMILY)
    st.session_state["pk_tune_family"] = picked if picked in labelled else labelled[0]
family_name = st.selectbox("Template family (labelled cases)", labelled, key="pk_tune_family")
family = families[family_name]
versions = {version.number: version for version in family.versions}
defaults = TrainingSettings()
name_key = f"pk_tune_name::{family_name}"
if st.session_state.get(name_key) in (None, st.session_state.get(KEY_TUNED_ADAPTER)):
    st.session_state[name_key] = suggest_adapter_name(store, family_name)  # the last one trained took its name

with st.form("tune_form"):
    left, right = st.columns(2)
    version = left.selectbox(
        "Prompt version", list(versions), index=len(versions) - 1, format_func=lambda n: version_label(versions[n]),
        key=f"pk_tune_version::{family_name}", help="Each case's prompt is this version filled with its values.",
    )
    name = right.text_input(
        "Adapter name", key=name_key,
        help="Lower-case letters, digits, '.', '_' or '-'. The model then loads as BASE+adapter:NAME.",
    )
    rank, epochs, learning_rate = st.columns(3)
    rank = rank.number_input("LoRA rank", value=defaults.rank, step=1, key="pk_tune_rank",
                             help="Size of the low-rank update of each attention layer; 4 is a good start.")
    epochs = epochs.number_input("Epochs (at most)", value=defaults.epochs, step=1, key="pk_tune_epochs",
                                 help="Training stops earlier when the validation loss stops falling.")
    learning_rate = learning_rate.number_input("Learning rate", value=defaults.learning_rate, step=1e-4,
                                               format="%.1e", key="pk_tune_lr")
    batch_size, seed = st.columns(2)
    batch_size = batch_size.number_input("Batch size", value=defaults.batch_size, step=1, key="pk_tune_batch")
    seed = seed.number_input("Seed", value=defaults.seed, step=1, key="pk_tune_seed",
                             help="Same seed, same cases: the same adapter.")
    train = st.form_submit_button("Train adapter", type="primary")

if train:
    with guard():
        request = TuneRequest(
            family=family_name,
            name=name.strip(),
            version=version,
            settings=TrainingSettings(
                rank=int(rank), epochs=int(epochs), learning_rate=float(learning_rate), batch_size=int(batch_size),
                seed=int(seed),
            ),
        )
        data = prepare_tuning(store, request, actor=acting_key())  # Bad input is said before the model is touched.
        if model is None:
            st.error("No model is loaded; pick one in the sidebar.")
            st.stop()
        status = st.status(f"Training {request.name} on {model.info.name}…", expanded=True)
        bar = st.progress(0.0, text="Preparing the cases…")
        chart = st.empty()
        # A click reruns the page, which stops the training at its next step: nothing is saved then.
        st.button("Cancel", key="pk_tune_cancel", on_click=cancelled_training_notice, icon=":material/cancel:")
        live = LiveTraining(bar, chart, steps_per_epoch=math.ceil(len(data.split("train")) / request.settings.batch_size))
        try:
            result = run_tuning(store, model, request, actor=acting_key(), progress=live, status=live.phase(status))
        except Exception:
            status.update(label=f"Training {request.name} stopped", state="error", expanded=False)
            raise
        st.session_state[KEY_TUNED_ADAPTER] = result.record.name
        st.session_state[KEY_NOTICE] = f"Trained {result.model_name} in {result.seconds:.0f} s."
        st.rerun()

trained = st.session_state.get(KEY_TUNED_ADAPTER)
record = store.find_adapter(trained) if trained else None
if record is None:
    st.info("Pick the version and settings, then press **Train adapter**.")
    st.stop()
st.subheader("Result")
with guard():
    model_name = adapter_model_name(record.base_model, record.name)
    show_adapter(record, model_name)
    if st.button("Compare with this adapter", icon=":material/compare_arrows:", key="pk_tune_compare"):
        st.session_state[KEY_FAMILY] = record.family
        st.session_state[KEY_COMPARE_ADAPTER] = record.name
        st.switch_page("dashboard/views/compare.py")

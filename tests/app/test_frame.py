"""The frame: sidebar model picker, device/dtype/load time, fallback to the default model."""

from __future__ import annotations

from apphelpers import no_errors, open_page


def test_sidebar_shows_model_device_dtype_and_load_time(app_env, monkeypatch):
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    monkeypatch.delenv("KAGGLE_KEY", raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(app_env / "no-kaggle"))
    at = open_page()
    no_errors(at)
    picker = at.sidebar.selectbox(key="pk_model_name")
    assert picker.value == "tiny:gemma3"  # PROMPTKIT_MODEL preselected
    assert len(picker.options) > 1  # KerasHub Gemma presets listed too
    assert any("No Kaggle credentials found" in item.value for item in at.sidebar.caption)
    shown = " ".join(item.value for item in at.sidebar.markdown)
    assert "Device: CPU · float32" in shown and "Loaded in" in shown
    assert [item.value for item in at.title] == ["Playground"]


def test_preset_that_cannot_load_falls_back_and_says_so(app_env, monkeypatch):
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    monkeypatch.delenv("KAGGLE_KEY", raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(app_env / "no-kaggle"))
    at = open_page()
    picker = at.sidebar.selectbox(key="pk_model_name")
    preset = next(option for option in picker.options if option != "tiny:gemma3")
    picker.set_value(preset).run()
    assert not at.exception
    warnings = [item.value for item in at.warning]
    assert any("Kaggle" in text and "Using tiny:gemma3 instead" in text for text in warnings), warnings
    assert "Traceback" not in " ".join(warnings)
    # The page still works with the fallback model.
    assert [item.value for item in at.title] == ["Playground"] and not at.error


def test_a_trained_adapter_is_offered_and_loads_as_a_model(app_env, monkeypatch, tiny_gemma3):
    from promptkit.models.lora import TrainingSettings, adapter_dir, save_adapter, train_adapter
    from tests.models.test_lora import dish_examples

    monkeypatch.setenv("PROMPTKIT_CACHE", str(app_env / "cache"))
    settings = TrainingSettings(rank=2, epochs=1, learning_rate=2e-2, batch_size=4)
    adapter = train_adapter(tiny_gemma3, dish_examples(tiny_gemma3, "train", 2), dish_examples(tiny_gemma3, "validation", 1), settings)
    save_adapter(adapter, adapter_dir("menu"))
    at = open_page()
    picker = at.sidebar.selectbox(key="pk_model_name")
    assert picker.options[-1] == "tiny:gemma3+adapter:menu"
    picker.set_value("tiny:gemma3+adapter:menu").run()
    no_errors(at)
    shown = " ".join(item.value for item in at.sidebar.markdown)
    assert "tiny:gemma3+adapter:menu" in shown and "LoRA adapter menu (rank 2) on tiny:gemma3" in shown

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

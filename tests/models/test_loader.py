"""Model names resolve to models, or to errors that say what to do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptkit.errors import ModelLoadError
from promptkit.generation import GenerationSettings
from promptkit.models.loader import gemma_preset_names, load_model
from promptkit.models.tiny import tiny_causal_lm


@pytest.fixture
def no_kaggle(monkeypatch, tmp_path):
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    monkeypatch.delenv("KAGGLE_KEY", raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "kaggle"))


def test_local_preset_directory_loads_like_a_kaggle_preset(tmp_path: Path):
    # A Kaggle preset is downloaded into a directory like this one and then
    # read by the same from_preset call.
    tiny_causal_lm("gemma2").save_to_preset(str(tmp_path / "preset"))
    model = load_model(str(tmp_path / "preset"))
    assert model.info.family == "gemma"
    assert model.info.context_length == 8192
    completion = model.generate(["Cheese"], settings=GenerationSettings(max_new_tokens=3, stop_sequences=()))[0]
    assert len(completion.tokens) == 3


def test_missing_kaggle_credentials_name_the_fix(no_kaggle):
    with pytest.raises(ModelLoadError, match="KAGGLE_USERNAME and KAGGLE_KEY"):
        load_model("gemma2_instruct_2b_en")


def test_unknown_preset_lists_known_ones(no_kaggle):
    with pytest.raises(ModelLoadError, match=r"Unknown model 'gemma9_huge'.*gemma"):
        load_model("gemma9_huge")


def test_non_gemma_preset_directory_is_refused(tmp_path: Path):
    (tmp_path / "config.json").write_text(json.dumps({"class_name": "Llama3Backbone"}))
    with pytest.raises(ModelLoadError, match=r"Llama3Backbone.*Gemma models only"):
        load_model(str(tmp_path))


def test_directory_without_config_is_refused(tmp_path: Path):
    with pytest.raises(ModelLoadError, match="not a KerasHub preset directory"):
        load_model(str(tmp_path))


def test_download_failure_is_explained(monkeypatch):
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", "not-a-real-key")
    monkeypatch.setenv("KAGGLE_API_ENDPOINT", "http://127.0.0.1:9")  # Nothing listens there.
    with pytest.raises(ModelLoadError, match="Downloading gemma3_instruct_1b failed"):
        load_model("gemma3_instruct_1b")


def test_unsupported_dtype_is_refused():
    with pytest.raises(ModelLoadError, match="float32 or bfloat16"):
        load_model("tiny:gemma3", dtype="int4")


def test_bfloat16_tiny_model_generates():
    model = load_model("tiny:gemma1", dtype="bfloat16")
    assert model.info.dtype == "bfloat16"
    completion = model.generate(["Hi"], settings=GenerationSettings(max_new_tokens=2, stop_sequences=()))[0]
    assert len(completion.tokens) == 2


def test_preset_list_covers_the_three_families():
    names = gemma_preset_names()
    assert {"gemma_2b_en", "gemma2_instruct_2b_en", "gemma3_instruct_1b"} <= set(names)

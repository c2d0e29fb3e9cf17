"""The model registry: one load per model however many threads ask, remembered failures."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from promptkit.errors import ModelLoadError, PromptkitError
from promptkit.model_registry import ModelRegistry
from promptkit.models import GemmaModel
from promptkit.models.companions import ModelCompanions

ROOT = Path(__file__).parents[1]


class CountingLoader:
    """A slow fake loader that counts its calls and fails for names starting 'bad'."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []
        self._lock = threading.Lock()

    def __call__(self, name: str, *, dtype: str | None, progress) -> object:
        with self._lock:
            self.calls.append((name, dtype))
        progress(f"loading {name}")
        time.sleep(0.2)  # long enough for the other threads to arrive meanwhile
        if name.startswith("bad"):
            raise ModelLoadError(f"{name} cannot load; pick another model.")
        if name.startswith("crash"):
            raise MemoryError("out of memory")
        return object()


def test_concurrent_gets_load_once_and_share_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "loads.log"
    monkeypatch.setenv("PROMPTKIT_LOAD_LOG", str(log))
    loader = CountingLoader()
    registry = ModelRegistry(loader=loader)
    with ThreadPoolExecutor(max_workers=8) as pool:
        models = list(pool.map(lambda _: registry.get("m"), range(8)))
    assert loader.calls == [("m", None)]
    assert all(model is models[0] for model in models)
    assert registry.loaded("m") is models[0]
    assert len(log.read_text().splitlines()) == 1


def test_each_dtype_is_a_model_of_its_own() -> None:
    loader = CountingLoader()
    registry = ModelRegistry(loader=loader)
    assert registry.get("m", "float32") is not registry.get("m", "bfloat16")
    assert loader.calls == [("m", "float32"), ("m", "bfloat16")]
    assert registry.loaded("m") is None


def test_progress_reaches_the_loading_caller() -> None:
    messages: list[str] = []
    ModelRegistry(loader=CountingLoader()).get("m", progress=messages.append)
    assert messages == ["loading m"]


def test_a_failed_load_is_remembered_and_the_fallback_still_loads() -> None:
    loader = CountingLoader()
    registry = ModelRegistry(loader=loader)
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(lambda _: _outcome(registry, "bad-model"), range(4)))
    assert all(isinstance(outcome, PromptkitError) for outcome in outcomes)
    assert all("bad-model cannot load" in str(outcome) for outcome in outcomes)
    with pytest.raises(PromptkitError, match="bad-model cannot load"):
        registry.loaded("bad-model")
    fallback = registry.get("good-model")
    assert registry.get("good-model") is fallback
    assert loader.calls == [("bad-model", None), ("good-model", None)]


def test_other_errors_are_not_remembered() -> None:
    loader = CountingLoader()
    registry = ModelRegistry(loader=loader)
    for _ in range(2):
        with pytest.raises(MemoryError):
            registry.get("crash")
    assert loader.calls == [("crash", None), ("crash", None)]
    assert registry.loaded("crash") is None


def test_loading_is_true_only_while_a_load_runs() -> None:
    started = threading.Event()

    def loader(name: str, *, dtype: str | None, progress) -> object:
        started.set()
        time.sleep(0.3)
        return object()

    registry = ModelRegistry(loader=loader)
    assert not registry.loading()
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(registry.get, "m")
        started.wait(5)
        assert registry.loading()
        pending.result()
    assert not registry.loading()


def test_the_default_loader_loads_a_tiny_model_once_with_one_engine_on_its_companions() -> None:
    registry = ModelRegistry()
    model = registry.get("tiny:gemma3")
    assert model.info.name == "tiny:gemma3"
    assert registry.get("tiny:gemma3") is model
    engine = registry.salience_engine(model)
    assert registry.salience_engine(model) is engine
    assert registry.salience_engines() == [engine]
    # The engine works on the model's companions, the ones every other caller of the model gets.
    assert engine.scorer is model.companions.scorer and engine.scorer.model is model
    assert engine.backend is model.companions.gradients and engine.attention is model.companions.attention
    with pytest.raises(ModelLoadError, match="Unknown tiny model"):
        registry.get("tiny:gemma9")


def test_importing_the_registry_loads_neither_tensorflow_nor_streamlit() -> None:
    code = (
        "import sys, promptkit.model_registry\n"
        "print(sorted(m for m in ('streamlit', 'tensorflow', 'keras') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def _outcome(registry: ModelRegistry, name: str) -> object:
    try:
        return registry.get(name)
    except PromptkitError as error:
        return error


def test_a_loaded_model_is_handed_out_with_its_decode_graphs_warm_and_warms_salience_after() -> None:
    registry = ModelRegistry()
    messages: list[str] = []
    model = registry.get("tiny:gemma3", progress=messages.append)
    graphs = model.graphs
    # A one-prompt Generate's graphs, traced before `get` returned.
    assert graphs.prefill.experimental_get_tracing_count() == 1
    assert graphs.greedy_steps.experimental_get_tracing_count() == 1
    assert any("Preparing the model's graphs" in message for message in messages), messages
    registry.join_warm_ups(timeout=120)
    # Then in the background: a batch of two rows (extend) and the salience gradients.
    assert graphs.extend.experimental_get_tracing_count() == 1
    assert model.companions.gradients.trace_count == 1
    # A user's request after the warm-up traces nothing more.
    from promptkit.generation import GenerationSettings

    model.generate(["Another prompt", "And a longer second one"], settings=GenerationSettings(max_new_tokens=3))
    assert [f.experimental_get_tracing_count() for f in (graphs.prefill, graphs.extend, graphs.greedy_steps)] == [1, 1, 1]


class Broken(GemmaModel):
    """A Gemma with compiled graphs that cannot be traced, nor a backbone to take gradients of."""

    def __init__(self) -> None:  # No KerasHub model behind it.
        self.graphs = None
        self._companions = ModelCompanions(self)


def test_a_failing_warm_up_is_logged_and_leaves_the_model_usable(caplog: pytest.LogCaptureFixture) -> None:
    registry = ModelRegistry(loader=lambda name, **_: Broken())
    model = registry.get("broken")
    registry.join_warm_ups(timeout=10)
    assert registry.get("broken") is model
    assert "Warming up the model's decode graphs failed" in caplog.text
    assert "Warming up the model's salience graphs failed" in caplog.text


def test_warm_up_can_be_switched_off(caplog: pytest.LogCaptureFixture) -> None:
    registry = ModelRegistry(loader=lambda name, **_: Broken(), warm_up=False)
    registry.get("m")
    registry.join_warm_ups(timeout=10)
    assert "Warming up" not in caplog.text  # the broken graphs were never asked for

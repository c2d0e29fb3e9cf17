"""Models loaded once per process and shared by threads, with one salience engine each.

A dashboard process serves every browser session from its own thread; they
all share one `ModelRegistry`, so a model is loaded (and held in memory)
once, however many sessions ask for it at the same moment.

Importing this module imports neither TensorFlow nor Keras: the loader is
imported on the first load.

Environment:
    PROMPTKIT_MODEL: the model the dashboard loads first (default: the
        embedded Gemma 3 270M; tests use `tiny:gemma3`); see `default_model_name`.
    PROMPTKIT_LOAD_LOG: if set, one line (time, process id, name, seconds) is
        appended to this file each time a model is actually loaded, so tests
        can check that it loads once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from promptkit.errors import PromptkitError
from promptkit.models.api import LanguageModel
from promptkit.models.gemma_model import GemmaModel

if TYPE_CHECKING:
    from promptkit.salience import SalienceEngine

Progress = Callable[[str], None]
Loader = Callable[..., LanguageModel]


def default_model_name() -> str:
    """The model the dashboard preselects: `PROMPTKIT_MODEL`, else the embedded Gemma.

    Returns:
        A model name `ModelRegistry.get` accepts.
    """
    # Imported here, as in `_default_loader`, so importing this module stays cheap.
    from promptkit.models.loader import EMBEDDED_MODEL

    return os.environ.get("PROMPTKIT_MODEL") or EMBEDDED_MODEL


def _silent(message: str) -> None:
    del message


def _default_loader(name: str, *, dtype: str | None, progress: Progress) -> LanguageModel:
    from promptkit.models.loader import load_model

    return load_model(name, dtype=dtype, progress=progress)


_log = logging.getLogger(__name__)


def _warm_up_before_use(model: GemmaModel, progress: Progress) -> None:
    """Traces and runs once the decode graphs a first Generate uses, as the last step of the load.

    Done before the model is handed out: traced after it, a Generate pressed
    as soon as the sidebar says "Loaded" would wait for the tracing anyway.
    """
    from promptkit.models.warm_up import WarmUpStopped, warm_up_generation

    progress("Preparing the model's graphs, so the first answer comes as fast as later ones…")
    try:
        timings = warm_up_generation(model)
    except WarmUpStopped:
        return
    except Exception:  # noqa: BLE001 - a user's own first request reports the error, with its context.
        _log.warning("Warming up the model's decode graphs failed", exc_info=True)
        return
    _log.info("Decode graphs traced in %.1f s, first run %.1f s", timings["trace_s"], timings["first_run_s"])


def _warm_up_after_load(model: GemmaModel) -> None:
    """Warms up the salience and two-row graphs (in a background thread)."""
    from promptkit.models.warm_up import WarmUpStopped, warm_up_in_background

    try:
        timings = warm_up_in_background(model)
    except WarmUpStopped:
        return
    except Exception:  # noqa: BLE001 - as above: the request that needs the graph reports it.
        _log.warning("Warming up the model's salience graphs failed", exc_info=True)
        return
    _log.info("Background warm-up: %s", ", ".join(f"{key} {value:.1f}" for key, value in timings.items()))


def _log_load(name: str, seconds: float) -> None:
    path = os.environ.get("PROMPTKIT_LOAD_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"{time.time():.3f}\t{os.getpid()}\t{name}\t{seconds:.2f}\n")


class ModelRegistry:
    """Loads each (model name, dtype) at most once; threads share the models.

    A load that fails with a `PromptkitError` (unknown name, no Kaggle
    credentials, …) is remembered and raised again without retrying, so the
    sessions do not each retry a load that cannot work. Other errors are not
    remembered: they may be passing (e.g. out of memory).
    """

    def __init__(self, *, loader: Loader | None = None, warm_up: bool = True) -> None:
        """Makes an empty registry.

        Args:
            loader: called as `loader(name, dtype=..., progress=...)` to load a
                model; default `promptkit.models.loader.load_model`.
            warm_up: warm up each loaded model that has compiled graphs
                (`promptkit.models.warm_up`; a first generation or salience
                view in a fresh process otherwise spends 8–12 s tracing, on a
                2-core CPU): the decode graphs of a one-prompt Generate as
                the load's last step, the salience and two-row graphs in a
                background thread afterwards.
        """
        self._loader = loader or _default_loader
        self._warm_up = warm_up
        self._warm_ups: list[threading.Thread] = []
        # One load at a time, whatever the model: two loads at once would
        # need both models' memory at the peak, on a machine sized for one.
        self._load_lock = threading.Lock()
        self._models: dict[tuple[str, str | None], LanguageModel] = {}
        self._failures: dict[tuple[str, str | None], str] = {}
        # A separate lock, so a page asking for an engine never waits for a load.
        self._engine_lock = threading.Lock()
        self._engines: dict[int, SalienceEngine] = {}

    def loading(self) -> bool:
        """Whether a model is being loaded right now (a `get` would wait for it)."""
        return self._load_lock.locked()

    def loaded(self, name: str, dtype: str | None = None) -> LanguageModel | None:
        """Returns the model if it is already loaded, without waiting.

        Args:
            name: the model name (see `promptkit.load_model`).
            dtype: the dtype asked for; None means the device's default.

        Returns:
            The model, or None when it has not been loaded yet.

        Raises:
            PromptkitError: the remembered failure of an earlier load.
        """
        key = (name, dtype)
        model = self._models.get(key)
        if model is None and key in self._failures:
            raise PromptkitError(self._failures[key])
        return model

    def get(self, name: str, dtype: str | None = None, *, progress: Progress = _silent) -> LanguageModel:
        """Returns the model, loading it first unless loaded (or loading) already.

        Args:
            name: the model name (see `promptkit.load_model`).
            dtype: the dtype asked for; None means the device's default.
            progress: receives status messages while this call loads.

        Returns:
            The loaded model, the same object for every caller.

        Raises:
            PromptkitError: if loading failed now or in an earlier call.
        """
        model = self.loaded(name, dtype)
        if model is not None:
            return model
        with self._load_lock:
            # Another thread may have loaded it, or failed to, while this one waited.
            model = self.loaded(name, dtype)
            if model is not None:
                return model
            started = time.perf_counter()
            try:
                model = self._loader(name, dtype=dtype, progress=progress)
            except PromptkitError as error:
                self._failures[(name, dtype)] = str(error)
                raise
            # Fakes in tests have no compiled graphs to warm up.
            warm = model if self._warm_up and isinstance(model, GemmaModel) else None
            if warm is not None:
                _warm_up_before_use(warm, progress)
            self._models[(name, dtype)] = model
            _log_load(name, time.perf_counter() - started)
            if warm is not None:
                thread = threading.Thread(target=_warm_up_after_load, args=(warm,), name=f"warm-up {name}", daemon=True)
                thread.start()
                self._warm_ups.append(thread)
        return model

    def join_warm_ups(self, timeout: float | None = None) -> None:
        """Waits for the background warm-ups started so far (for tests and benchmarks).

        Args:
            timeout: seconds to wait for each; None waits until they end.
        """
        for thread in list(self._warm_ups):
            thread.join(timeout)

    def salience_engine(self, model: LanguageModel) -> SalienceEngine:
        """Returns the `SalienceEngine` of `model`, made once, so its score cache is shared.

        Args:
            model: a loaded model.

        Returns:
            The model's engine, on the model's shared companions.
        """
        from promptkit.salience import SalienceEngine

        with self._engine_lock:
            # Keyed by id: the engine holds the model, so the id cannot be reused.
            engine = self._engines.get(id(model))
            if engine is None:
                engine = self._engines[id(model)] = SalienceEngine(model)
        return engine

    def salience_engines(self) -> list[SalienceEngine]:
        """Returns the engines made so far (e.g. to count their gradient calls)."""
        with self._engine_lock:
            return list(self._engines.values())

"""Completes a matrix's batches on a pool of Ray actors, each holding the model.

Each worker (a Ray actor) loads the model once, on one GPU where the cluster
has GPUs, else on CPUs, and completes whole batches (`complete_batch`): the
same batches, in the same prompt order, as `LocalEngine` completes in one
process, so a worker's throughput and results equal the local path's. The
driver hands a batch to each idle worker and writes each batch's cells as it
comes back; a worker that dies mid-batch has that batch handed to another
(and Ray restarts it, loading the model again, up to `max_restarts` times).

Ray is optional (requirements-dev.txt pins it): it is imported when an engine
is opened, never when this module is, and a missing install is a
`PromptkitError` that says how to add it.

Environment:
    PROMPTKIT_RAY_ADDRESS: the cluster `--engine ray` joins (see `RayEngine`).
"""

from __future__ import annotations

import collections
import os
import re
import threading
from collections.abc import Callable, Sequence
from types import ModuleType, TracebackType
from typing import Any

from promptkit.errors import PromptkitError
from promptkit.evaluation.matrix import CellBatch, CellOutput, MatrixJob, complete_batch
from promptkit.models.api import CandidateScorer

RAY_ADDRESS_VARIABLE = "PROMPTKIT_RAY_ADDRESS"
RAY_REQUIREMENT = "ray==2.60.0"
# A batch that was running on this many workers when they died is given up: it is likely what kills them.
MAX_ATTEMPTS = 3
# A Ray started here keeps objects (batches, cells) in shared memory; they are small.
_LOCAL_OBJECT_STORE_BYTES = 256 * 2**20


def ray_address(given: str | None = None) -> str | None:
    """The cluster to use: `given`, else `PROMPTKIT_RAY_ADDRESS`, else None (a local Ray on this machine)."""
    return given or os.environ.get(RAY_ADDRESS_VARIABLE) or None


def import_ray() -> ModuleType:
    """Imports Ray, or says how to install it.

    Returns:
        The `ray` module.

    Raises:
        PromptkitError: If Ray is not installed.
    """
    try:
        import ray
    except ImportError as error:
        raise PromptkitError(
            f"Running on Ray (--engine ray) needs Ray, which is not installed here. Install it with "
            f"`pip install {RAY_REQUIREMENT}` (`make setup` installs it with the other development "
            "requirements), or run on this machine with --engine local."
        ) from error
    return ray


class _Worker:
    """One Ray actor's state: the model, loaded once, and a scorer per scoring batch size.

    Args:
        model_name: what `promptkit.models.loader.load_model` loads; None for the embedded model.
        dtype: the weights' dtype; None for the loader's default.
    """

    def __init__(self, model_name: str | None, dtype: str | None) -> None:
        from promptkit.models.loader import load_model

        self._model = load_model(model_name, dtype=dtype)
        self._scorers: dict[int, CandidateScorer] = {}

    def ready(self) -> str:
        """The loaded model's name (answered once the model is loaded)."""
        return self._model.info.name

    def pid(self) -> int:
        """The worker's process id."""
        return os.getpid()

    def complete(self, job: MatrixJob, batch: CellBatch) -> list[CellOutput]:
        """Finishes one batch of cells (`promptkit.evaluation.matrix.complete_batch`)."""
        scorer = self._scorer(job.batch_size) if job.score else None
        return complete_batch(self._model, scorer, job, batch, advance=_ignore)

    def _scorer(self, batch_size: int) -> CandidateScorer:
        if batch_size not in self._scorers:
            from promptkit.models.scoring import ContinuationScorer

            self._scorers[batch_size] = ContinuationScorer(self._model, batch_size=batch_size)
        return self._scorers[batch_size]


def _ignore(count: float) -> None:
    """Progress inside a worker's batch: the driver counts the batch when it is back."""
    del count


class RayEngine:
    """Completes batches on Ray actors that each load the model once; an `Engine`.

    Use it as a context manager (or call `close`): it stops its workers, and
    the Ray it started or joined.

    Args:
        model: the model each worker loads (`promptkit.models.loader.load_model`);
            None for the embedded one.
        address: the cluster: `auto` joins the one running on this machine
            (`ray start --head`), `ray://HOST:10001` a remote one through Ray
            Client, `HOST:PORT` one this machine is a node of; None starts a
            local Ray with the CPUs this process may use. A Ray this process
            is already connected to is used as it is.
        workers: how many actors; default one per GPU when the cluster has
            GPUs, else one per node with that node's CPUs.
        dtype: the weights' dtype; None for the loader's default.
        max_restarts: how many times Ray restarts a worker that died (it
            loads the model again); its batch goes to another worker at once.
        log: called with a line as the workers start.

    Raises:
        PromptkitError: If Ray is not installed, the cluster cannot be reached
            or lacks the resources asked for, or a worker cannot load the model.
    """

    def __init__(
        self,
        model: str | None,
        *,
        address: str | None = None,
        workers: int | None = None,
        dtype: str | None = None,
        max_restarts: int = 1,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if workers is not None and workers < 1:
            raise PromptkitError(f"The number of Ray workers must be at least 1 (got {workers}).")
        self._ray = import_ray()
        self._lock = threading.Lock()
        self._owns_ray = _connect(self._ray, address)
        self._actors: list[Any] = []
        self._idle: list[int] = []
        self._restarting: dict[Any, int] = {}  # A probe (`ready` call) → the worker it waits for.
        self._dead: set[int] = set()
        self.retried = 0
        try:
            options = _worker_options(self._ray, workers)
            count = options.pop("count")
            if log is not None:
                where = f"{options['num_gpus']} GPU" if options["num_gpus"] else f"{options['num_cpus']} CPU"
                log(f"Starting {count} Ray worker(s), {where} each; each loads {model or 'the embedded model'}…")
            actor_class = self._ray.remote(_Worker).options(max_restarts=max_restarts, **options)
            self._actors = [actor_class.remote(model, dtype) for _ in range(count)]
            names = self._ray.get([actor.ready.remote() for actor in self._actors])
        except self._ray.exceptions.RayActorError as error:
            self.close()
            raise PromptkitError(
                f"A Ray worker could not load {model or 'the embedded model'}: {_cause(error)}"
            ) from None
        except BaseException:
            self.close()
            raise
        self._model_name: str = names[0]
        self._idle = list(range(count))

    @property
    def model_name(self) -> str:
        """The workers' model, as its loader names it."""
        return self._model_name

    @property
    def scores(self) -> bool:
        """Workers score candidate labels: yes."""
        return True

    @property
    def live_workers(self) -> int:
        """Workers up now: neither dead nor restarting."""
        return len(self._actors) - len(self._dead) - len(self._restarting)

    @property
    def actors(self) -> tuple[Any, ...]:
        """The workers' Ray actor handles (each has `pid.remote()`)."""
        return tuple(self._actors)

    def run(
        self,
        job: MatrixJob,
        batches: Sequence[CellBatch],
        *,
        on_batch: Callable[[Sequence[CellOutput]], None],
        advance: Callable[[float], None],
    ) -> None:
        """Hands each batch to an idle worker and passes each back as it arrives; see `Engine.run`.

        One comparison at a time: a second caller waits for the first.

        Raises:
            PromptkitError: If every worker died, or one batch was running on
                `MAX_ATTEMPTS` workers that died; the batches back by then
                have been passed on.
        """
        ray = self._ray
        with self._lock:
            job_ref = ray.put(job)
            queue = collections.deque(range(len(batches)))
            attempts: collections.Counter[int] = collections.Counter()
            running: dict[Any, tuple[int, int]] = {}  # A task → (worker, batch).
            try:
                while queue or running:
                    while queue and self._idle:
                        worker, index = self._idle.pop(), queue.popleft()
                        attempts[index] += 1
                        running[self._actors[worker].complete.remote(job_ref, batches[index])] = (worker, index)
                    if not running and not self._restarting:
                        raise PromptkitError(
                            "Every Ray worker died; the cells finished before are stored. Check the workers' "
                            "memory and logs, then resume the comparison (`python -m promptkit compare --resume ID`)."
                        )
                    (ref,), _ = ray.wait([*running, *self._restarting], num_returns=1)
                    if ref in self._restarting:
                        self._back(ref)
                        continue
                    worker, index = running.pop(ref)
                    try:
                        outputs = ray.get(ref)
                    except ray.exceptions.RayActorError:
                        self._lost(worker)
                        if attempts[index] >= MAX_ATTEMPTS:
                            raise PromptkitError(
                                f"A batch of {len(batches[index].cells)} cells was running on {attempts[index]} "
                                "Ray workers that died; it is likely what kills them (memory?). The other "
                                "finished cells are stored; resume the comparison with smaller batches "
                                "(`python -m promptkit compare --resume ID`) after checking the workers."
                            ) from None
                        self.retried += 1
                        queue.appendleft(index)
                        continue
                    self._idle.append(worker)
                    on_batch(outputs)
                    advance(sum(job.units(cell) for cell in batches[index].cells))
            finally:
                # Stopped early (the caller's progress raised): what is still queued there is not wanted.
                for ref, (worker, _) in running.items():
                    ray.cancel(ref)
                    self._idle.append(worker)

    def close(self) -> None:
        """Stops the workers, and the Ray this engine started or joined."""
        for actor in self._actors:
            self._ray.kill(actor, no_restart=True)
        self._actors, self._idle = [], []
        self._restarting.clear()
        if self._owns_ray:
            self._ray.shutdown()
            self._owns_ray = False

    def __enter__(self) -> RayEngine:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _lost(self, worker: int) -> None:
        """A worker died: wait for Ray to restart it (a probe), or count it out if it cannot."""
        self._restarting[self._actors[worker].ready.remote()] = worker

    def _back(self, probe: Any) -> None:
        """A probe answered: the worker is up again, or gone for good."""
        worker = self._restarting.pop(probe)
        try:
            self._ray.get(probe)
        except self._ray.exceptions.RayActorError:
            self._dead.add(worker)
            return
        self._idle.append(worker)


def _connect(ray: ModuleType, address: str | None) -> bool:
    """Connects this process to Ray; True when this call did (and so `close` disconnects)."""
    if ray.is_initialized():
        return False
    try:
        if address is None:
            ray.init(
                address="local",  # A new Ray here, even where `ray start` left one to join.
                num_cpus=len(os.sched_getaffinity(0)),
                object_store_memory=_LOCAL_OBJECT_STORE_BYTES,
                include_dashboard=False,
                log_to_driver=False,
            )
        else:
            ray.init(address=address, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise PromptkitError(
            f"Could not reach the Ray cluster at {address!r} ({str(error).strip().splitlines()[0]}). Check "
            f"--ray-address or {RAY_ADDRESS_VARIABLE}: `auto` joins the cluster started on this machine with "
            "`ray start --head`, `ray://HOST:10001` a remote one; leave both unset to start Ray here."
        ) from None
    return True


def _worker_options(ray: ModuleType, workers: int | None) -> dict[str, Any]:
    """How many workers, and each one's resources, for the cluster Ray is connected to."""
    total = ray.cluster_resources()
    gpus = int(total.get("GPU", 0))
    if gpus:
        count = workers or gpus
        if count > gpus:
            raise PromptkitError(f"The Ray cluster has {gpus} GPU(s), one per worker; ask for at most {gpus} workers.")
        return {"count": count, "num_gpus": 1, "num_cpus": 1}
    node_cpus = [int(node["Resources"].get("CPU", 0)) for node in ray.nodes() if node.get("Alive")]
    node_cpus = [cpus for cpus in node_cpus if cpus] or [1]
    count = workers or len(node_cpus)
    # TensorFlow uses every core it sees: each worker gets its share, and uses that many threads.
    per_worker = max(1, min(min(node_cpus), int(total.get("CPU", 1)) // count))
    if count > sum(cpus // per_worker for cpus in node_cpus):
        raise PromptkitError(
            f"The Ray cluster has {sum(node_cpus)} CPU(s) and no GPU; ask for at most {sum(node_cpus)} workers."
        )
    threads = str(per_worker)
    return {
        "count": count,
        "num_gpus": 0,
        "num_cpus": per_worker,
        "runtime_env": {"env_vars": {"TF_NUM_INTRAOP_THREADS": threads, "OMP_NUM_THREADS": threads}},
    }


def _cause(error: BaseException) -> str:
    """The message a dead worker's creation task raised: the last `SomeError: message` line Ray reports."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    for line in reversed(lines):
        raised = re.match(r"(?:[\w.]+\.)?\w+Error: (.+)", line)
        if raised is not None and not line.startswith("ray."):
            return raised[1][:500]
    return (lines or [type(error).__name__])[-1][:500]

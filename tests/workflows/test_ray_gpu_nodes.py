"""Comparisons on a two-node Ray cluster whose nodes declare one GPU each: one worker per GPU, one per node.

The nodes run on this machine (`ray.cluster_utils.Cluster`, loopback only)
and their GPUs are declared, not real, so the workers' TensorFlow runs on
the CPU: what is tested is the cluster side — how many workers, what each
reserves, where they land, and that their results equal the local ones.
"""

from __future__ import annotations

import faulthandler
from collections.abc import Iterator

import pytest

from promptkit.models.scoring import ContinuationScorer
from promptkit.workflows import ComparisonRequest, run_comparison, run_comparison_on

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402  (needs Ray)

from promptkit.errors import PromptkitError  # noqa: E402
from promptkit.evaluation.ray_engine import RayEngine  # noqa: E402

pytestmark = pytest.mark.ray
CLUSTER_DEADLINE_S = 300


@pytest.fixture(scope="module")
def two_gpu_nodes() -> Iterator[str]:
    """The address of a head node and a second node, each with 1 CPU and 1 (declared) GPU."""
    faulthandler.dump_traceback_later(CLUSTER_DEADLINE_S, exit=True)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "num_gpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1, num_gpus=1)
    cluster.wait_for_nodes()
    try:
        yield cluster.address
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()
        faulthandler.cancel_dump_traceback_later()


def _placement(actor) -> tuple[str, list]:
    """The node a worker runs on and the GPUs Ray gave it."""
    return ray.get(actor.__ray_call__.remote(lambda _: (ray.get_runtime_context().get_node_id(), ray.get_gpu_ids())))


def test_each_gpu_gets_one_worker_on_its_own_node_with_the_local_results(two_gpu_nodes, mini_store, tiny_gemma3):
    request = ComparisonRequest(family="mini", versions=[1, 2], batch_size=2)
    lines: list[str] = []
    with RayEngine("tiny:gemma3", address=two_gpu_nodes, log=lines.append) as engine:
        assert lines == ["Starting 2 Ray worker(s), 1 GPU each; each loads tiny:gemma3…"]
        placements = [_placement(actor) for actor in engine.actors]
        assert len({node for node, _ in placements}) == 2  # One worker per node…
        assert all(len(gpus) == 1 for _, gpus in placements)  # …each holding that node's one GPU.
        with pytest.raises(PromptkitError, match=r"has 2 GPU\(s\), one per worker"):
            RayEngine("tiny:gemma3", workers=3)  # Joins the same cluster: 2 GPUs, so at most 2 workers.
        on_ray = run_comparison_on(mini_store, engine, request, actor="ada")
    local = run_comparison(
        mini_store, tiny_gemma3, request, actor="ada", scorer=ContinuationScorer(tiny_gemma3, batch_size=request.batch_size)
    )
    assert on_ray.result.to_json() == local.result.to_json()
    assert len(on_ray.record.cells) == 4 and all(cell.run_id is not None for cell in on_ray.record.cells)

"""FGD placement (Weng et al., ATC '23): the fragmentation measure and the packing it drives."""

from __future__ import annotations

import numpy as np
import pytest

from wanka.sim.fgd import (
    Cluster,
    Scorer,
    Tasks,
    arrival_order,
    best_fit,
    fgd,
    fragmentation,
    inflate,
    read_openb_nodes,
    read_openb_tasks,
)
from wanka.sim.traces import builtin_root

OPENB = builtin_root() / "alibaba-gpu-2023-openb"


def test_fragmentation_by_hand():
    """One 2-GPU node, GPU free 1000 and 300 milli; half the tasks want 0.5 GPU, half 1 GPU.
    For 0.5: the 300 is unusable (300). For 1 GPU: the partly used one is unusable (300)."""
    types = Tasks(np.array([1000, 1000]), np.array([1, 1]), np.array([500, 1000]))
    pop = np.array([0.5, 0.5])
    f = fragmentation(np.array([8000]), np.array([[1000, 300]]), types, pop)
    assert f[0] == pytest.approx(300)
    # Without CPU left no task fits: every free milli is fragmented.
    f = fragmentation(np.array([0]), np.array([[1000, 300]]), types, pop)
    assert f[0] == pytest.approx(1300)


def test_fgd_keeps_a_whole_gpu_for_whole_gpu_tasks():
    """A 0.5-GPU task on two nodes (one half-used GPU, one idle GPU): best fit and FGD both
    fill the half-used GPU; an idle whole GPU stays for the 1-GPU tasks."""
    types = Tasks(np.array([1000, 1000]), np.array([1, 1]), np.array([500, 1000]))
    for place in (fgd, best_fit):
        cl = Cluster(np.array([8000, 8000]), np.array([8000, 8000]), np.array([[500], [1000]]))
        assert place(cl, (1000, 1, 500, 0), Scorer(types, np.array([0.5, 0.5])))
        assert cl.gpu.tolist() == [[0], [1000]]


def test_memory_is_checked():
    """A task asking for more memory than any node has left is not placed."""
    cl = Cluster(np.array([8000]), np.array([8000]), np.array([[1000]]), mem=np.array([1024]))
    sc = Scorer(*Tasks(np.array([1000]), np.array([1]), np.array([1000])).types())
    assert not fgd(cl, (1000, 1, 1000, 2048), sc)
    assert fgd(cl, (1000, 1, 1000, 512), sc) and cl.mem.tolist() == [512]


def test_typical_types_cover_the_share_asked():
    """The most popular specs up to the coverage, renormalised (the artifact's typical pods)."""
    t = Tasks(np.array([1, 1, 1, 2, 2, 3]), np.array([1] * 6), np.array([100] * 6))
    types, pop = t.types(0.5)
    assert types.cpu.tolist() == [1] and pop.tolist() == [1.0]
    types, pop = t.types(0.6)
    assert types.cpu.tolist() == [1, 2] and pop.tolist() == pytest.approx([0.6, 0.4])


def test_arrival_order_is_every_task_then_copies_up_to_the_target():
    t = Tasks(np.array([1, 1, 1]), np.array([1, 1, 0]), np.array([1000, 500, 0]))
    order = arrival_order(t, capacity_milli=3000, to=1.3, rng=np.random.default_rng(0))
    assert sorted(order[:3].tolist()) == [0, 1, 2]
    asked = t.gpu_milli()[order].sum()
    assert asked <= 3900 and asked + 1000 > 3900


def test_fgd_allocates_more_than_best_fit_on_openb():
    """On a quarter of the openb GPU nodes, filled with the openb default pods by the artifact's
    inflation and scored as the artifact scores, FGD leaves fewer GPUs unallocated at 100 %
    arrived than best fit on every seed, by a margin near the published one (~33 %)."""
    cl = read_openb_nodes(OPENB / "nodes" / "openb_node_list_gpu_node.csv.gz").every(4)
    tasks = read_openb_tasks(OPENB / "openb_pod_list_default.csv.gz")
    left = {}
    for p in ("best-fit", "fgd"):
        runs = [inflate(cl, tasks, p, seed=s, to=1.0) for s in range(2)]
        assert all(r["arrived"][-1] == 1.0 for r in runs)
        left[p] = np.array([r["unallocated_gpus"][-1] for r in runs])
    assert (left["fgd"] < left["best-fit"]).all()
    assert 0.15 < 1 - left["fgd"].sum() / left["best-fit"].sum() < 0.5

"""Placement: packed (topology-aware best fit) vs first-fit, and the spread slowdown."""

from __future__ import annotations

import numpy as np
import pytest

from wanka.sim import ClusterSpec, NodeGroup, SimConfig, simulate
from wanka.sim.placement import Topology, first_fit, packed
from wanka.sim.speed import Tier, placement_speed


@pytest.fixture
def c4x8():
    # 4 nodes of 8, 2 nodes per leaf -> 2 leaves
    return ClusterSpec.from_groups(
        [NodeGroup(accelerator="generic", nodes=4, gpus_per_node=8)], nodes_per_leaf=2
    )


def test_packed_best_fit_never_splits(c4x8):
    """A 4-GPU job goes to the node with the fewest free GPUs that still fits it."""
    topo = Topology(c4x8)
    free = np.array([3, 8, 5, 6])
    p = packed(topo, free, 4, (0,))
    assert p.nodes.tolist() == [2] and p.counts.tolist() == [4] and p.tier == Tier.DOMAIN
    assert packed(topo, np.array([3, 3, 3, 3]), 4, (0,)) is None  # 12 free but no node fits


def test_first_fit_splits(c4x8):
    """First-fit takes accelerators in node order, splitting the job across nodes."""
    topo = Topology(c4x8)
    p = first_fit(topo, np.array([3, 8, 5, 6]), 4, (0,))
    assert p.nodes.tolist() == [0, 1] and p.counts.tolist() == [3, 1] and p.tier == Tier.LEAF
    p = first_fit(topo, np.array([3, 3, 3, 3]), 8, (0,))
    assert p.counts.tolist() == [3, 3, 2] and p.tier == Tier.POD  # 2 leaves, 1 pod


def test_packed_multi_node_prefers_one_leaf(c4x8):
    """A 16-GPU job takes a whole leaf with enough room rather than spanning leaves."""
    topo = Topology(c4x8)
    p = packed(topo, np.array([8, 4, 8, 8]), 16, (0,))
    assert sorted(p.nodes.tolist()) == [2, 3] and p.tier == Tier.LEAF


def test_nvl_domain_kept_whole():
    """With 4-node scale-up domains, a 16-GPU job stays inside one domain."""
    c = ClusterSpec.from_groups(
        [NodeGroup(accelerator="generic", nodes=8, gpus_per_node=4, nodes_per_domain=4)]
    )
    topo = Topology(c)
    free = np.array([4, 4, 4, 0, 4, 4, 4, 4])
    p = packed(topo, free, 16, (0,))
    assert sorted(p.nodes.tolist()) == [4, 5, 6, 7] and p.tier == Tier.DOMAIN


def test_spread_slows_down():
    """A job spread over more of the network runs slower; compact placement runs at speed 1."""
    args = (4e8, 0.3, 450e9, 50e9, 2.0, 4.0, 5e-6, 8)
    assert placement_speed(8, Tier.DOMAIN, Tier.DOMAIN, *args) == 1.0
    leaf = placement_speed(8, Tier.LEAF, Tier.DOMAIN, *args)
    cross = placement_speed(8, Tier.CLUSTER, Tier.DOMAIN, *args)
    assert 0 < cross < leaf < 1
    # alpha-beta by hand: ring all-reduce 2*7/8*4e8 B over 50 GB/s = 14 ms (+ latency)
    t_leaf = 2 * 7 * 5e-6 + 2 * 7 / 8 * 4e8 / 50e9
    t_dom = 2 * 7 * 5e-6 + 2 * 7 / 8 * 4e8 / 450e9
    assert leaf == pytest.approx((0.3 + t_dom) / (0.3 + t_leaf))


def test_first_fit_runs_split_jobs_slower():
    """In a simulation, first-fit's split placement stretches the job's run time."""
    from wanka.sim import JobTable

    c = ClusterSpec.from_shape(gpus=16, gpus_per_node=8)
    t = JobTable.build(name=["a", "b"], arrival_s=[0.0, 1.0], size=[4, 8], work_s=[1e6, 100.0])
    ff = simulate(cluster=c, trace=t, policy="fifo", config=SimConfig(placement="first-fit"))
    pk = simulate(cluster=c, trace=t, policy="fifo", config=SimConfig(placement="packed"))
    assert float(pk.finish_s[1]) == pytest.approx(101)  # whole node 1
    assert float(ff.finish_s[1]) > 101  # 4 GPUs on node 0 + 4 on node 1: slower


def test_fgd_whole_gpus_least_fragmentation_growth():
    """Workload half 1-GPU, half 8-GPU jobs; nodes with 3 and 8 free: a 1-GPU job on the full
    node would strand 7 GPUs for the 8-GPU jobs (growth 3.5), on the 3-free node it shrinks the
    stranded ones (growth -0.5), so FGD takes the 3-free node."""
    import numpy as np

    from wanka.sim.cluster import ClusterSpec
    from wanka.sim.placement import Topology, fgd

    topo = Topology(ClusterSpec.from_shape(gpus=16, gpus_per_node=8))
    topo.size_tail = np.array([1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.0, 0.0])
    p = fgd(topo, np.array([3, 8]), 1, (0,))
    assert p is not None and p.nodes.tolist() == [0]
    p = fgd(topo, np.array([8, 3]), 1, (0,))
    assert p is not None and p.nodes.tolist() == [1]

"""Property tests: invariants of every run, on random small workloads."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from wanka.sim import ClusterSpec, JobTable, SimConfig, simulate

POLICIES = ["fifo", "fifo-backfill", "sjf", "tiresias", "gavel", "quota"]


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    policy=st.sampled_from(POLICIES),
    placement=st.sampled_from(["packed", "first-fit"]),
)
def test_run_invariants(seed, policy, placement):
    """Every job is completed or rejected; none starts before it arrives or ends early; the
    busy accelerators never exceed the cluster."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    sizes = rng.choice([1, 2, 3, 4, 8, 16, 40], n)
    arr = np.cumsum(rng.exponential(50, n))
    work = rng.exponential(300, n) + 1
    t = JobTable.build(
        name=[f"j{i}" for i in range(n)],
        arrival_s=arr.tolist(),
        size=sizes.tolist(),
        work_s=work.tolist(),
        tenant=[f"t{int(x)}" for x in rng.integers(0, 3, n)],
    )
    c = ClusterSpec.from_shape(gpus=32, gpus_per_node=8)
    r = simulate(cluster=c, trace=t, policy=policy, config=SimConfig(placement=placement))
    s = r.summary
    assert s["completed"] + s["rejected"] == n
    assert s["rejected"] == int((t.size > 32).sum())
    done = r.state == 3
    assert np.all(r.first_start_s[done] >= t.arrival_s[done] - 1e-9)
    # speed <= 1 on a homogeneous cluster: nobody finishes faster than its work
    assert np.all(r.finish_s[done] - r.first_start_s[done] >= t.work_s[done] - 1e-6)
    assert np.all(r.series_busy <= 32)

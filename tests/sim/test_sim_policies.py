"""Each policy's decisions on tiny clusters whose answers were worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from wanka.sim import ClusterSpec, NodeGroup, SimConfig, simulate
from wanka.sim.policies import Tiresias


def _finish(res, i):
    return float(res.finish_s[i])


def _start(res, i):
    return float(res.first_start_s[i])


def test_fifo_head_blocks(one_node4, make_jobs):
    """FIFO: a 4-GPU head job makes later 1-GPU jobs wait even though it runs alone."""
    jobs = make_jobs
    t = jobs([(0, 4, 10), (1, 1, 5), (2, 1, 1)])
    r = simulate(cluster=one_node4, trace=t, policy="fifo")
    assert [_start(r, i) for i in range(3)] == [0, 10, 10]
    assert [_finish(r, i) for i in range(3)] == [10, 15, 11]
    assert r.summary["avg_jct_s"] == pytest.approx((10 + 14 + 9) / 3)


def test_fifo_strict_order_no_skip(one_node4, make_jobs):
    """FIFO never lets a small job pass a blocked bigger head."""
    jobs = make_jobs
    t = jobs([(0, 3, 10), (1, 2, 10), (2, 1, 10)])
    r = simulate(cluster=one_node4, trace=t, policy="fifo")
    assert _start(r, 2) == 10  # it would fit at t=2 but the head (2 GPUs) is blocked
    assert _start(r, 1) == 10


def test_backfill_easy(make_jobs):
    """EASY backfill starts a short job ahead of the blocked head, never one that delays it."""
    jobs = make_jobs
    c = ClusterSpec.from_shape(gpus=8, gpus_per_node=8)
    # j0 holds 6 until 100; head j1 (4) must wait until 100; j2 (2 GPUs, 10 s) ends before 100.
    # j3 (2 GPUs, 500 s) arrives when nothing is free; at t=12 it could start, but extra at the
    # shadow time is 8-4=4 >= 2, so EASY lets it run too.
    t = jobs([(0, 6, 100), (1, 4, 50), (2, 2, 10), (3, 2, 500)])
    r = simulate(cluster=c, trace=t, policy="fifo-backfill")
    assert _start(r, 2) == 2
    assert _start(r, 1) == 100
    assert _start(r, 3) == 12
    f = simulate(cluster=c, trace=t, policy="fifo")
    assert _start(f, 2) == 100 and _start(f, 1) == 100  # FIFO: both wait for j0


def test_backfill_respects_reservation(make_jobs):
    """A backfill candidate that would run past the shadow time and eat the head's share waits."""
    jobs = make_jobs
    c = ClusterSpec.from_shape(gpus=8, gpus_per_node=8)
    t = jobs([(0, 6, 100), (1, 8, 50), (2, 2, 1000)])
    r = simulate(cluster=c, trace=t, policy="fifo-backfill")
    assert _start(r, 1) == 100  # head not delayed
    assert _start(r, 2) == 150


def test_sjf_oracle_order(make_jobs):
    """SJF starts the shortest waiting job first."""
    jobs = make_jobs
    c = ClusterSpec.from_shape(gpus=1, gpus_per_node=1)
    t = jobs([(0, 1, 100), (1, 1, 50), (2, 1, 10)])
    r = simulate(cluster=c, trace=t, policy="sjf")
    assert _start(r, 2) == 100 and _start(r, 1) == 110


def test_tiresias_demotes_and_preempts(make_jobs):
    """2D-LAS: a job past the first threshold is preempted by a fresh one, then resumes."""
    jobs = make_jobs
    c = ClusterSpec.from_shape(gpus=1, gpus_per_node=1)
    t = jobs([(0, 1, 1000), (100, 1, 10)])
    pol = Tiresias(level_thresholds_gpu_s=(50.0,))
    r = simulate(cluster=c, trace=t, policy=pol, config=SimConfig(preempt_cost_s=5.0))
    assert _start(r, 1) == 100 and _finish(r, 1) == 110
    # j0 ran 100 s, resumes at 110 after a 5 s restore, 900 s of work left.
    assert _finish(r, 0) == pytest.approx(110 + 5 + 900)
    assert r.summary["preemptions"] == 1


def test_tiresias_same_level_no_preemption(make_jobs):
    """Jobs of the same queue do not preempt each other."""
    jobs = make_jobs
    c = ClusterSpec.from_shape(gpus=1, gpus_per_node=1)
    t = jobs([(0, 1, 40), (10, 1, 10)])
    r = simulate(cluster=c, trace=t, policy=Tiresias(level_thresholds_gpu_s=(50.0,)))
    assert _start(r, 1) == 40 and r.summary["preemptions"] == 0


def test_quota_reclaims_borrowed(one_node4, make_jobs):
    """Tenant a borrows all 4 GPUs; b submits within its quota: one of a's jobs is reclaimed."""
    jobs = make_jobs
    t = jobs([(0, 1, 1000)] * 4 + [(10, 1, 100)], tenant=["a", "a", "a", "a", "b"])
    r = simulate(cluster=one_node4, trace=t, policy="quota", config=SimConfig(preempt_cost_s=0))
    assert _start(r, 4) == 10
    assert r.summary["preemptions"] == 1
    # The newest of a's jobs (j3) was the victim; it resumes when b's job ends at 110.
    assert _finish(r, 3) == pytest.approx(110 + 990)
    assert r.summary["completed"] == 5


def test_quota_no_reclaim_within_quota(one_node4, make_jobs):
    """A tenant within its own quota is never preempted."""
    jobs = make_jobs
    t = jobs([(0, 1, 1000)] * 2 + [(10, 4, 100)], tenant=["a", "a", "b"])
    r = simulate(cluster=one_node4, trace=t, policy="quota")
    assert r.summary["preemptions"] == 0
    assert _start(r, 2) == 1000


def test_gavel_prefers_the_faster_type(make_jobs):
    """Gavel puts a job on the accelerator type where its measured throughput is highest."""
    jobs = make_jobs
    c = ClusterSpec.from_groups(
        [
            NodeGroup(accelerator="k80", nodes=1, gpus_per_node=4),
            NodeGroup(accelerator="v100", nodes=1, gpus_per_node=4),
        ]
    )
    t = jobs([(0, 1, 100)], model=["ResNet-50 (batch size 64)"])
    r = simulate(cluster=c, trace=t, policy="gavel")
    # v100 / k80 for ResNet-50 bs64 on 1 GPU = 4.395 / 0.619 steps/s (Gavel matrix).
    assert _finish(r, 0) == pytest.approx(100 / (4.395 / 0.619), rel=0.02)


def test_inference_not_preempted(make_jobs):
    """Inference jobs are never chosen as preemption victims."""
    jobs = make_jobs
    c = ClusterSpec.from_shape(gpus=1, gpus_per_node=1)
    t = jobs([(0, 1, 1000), (100, 1, 10)], kind=["inference", "training"])
    r = simulate(cluster=c, trace=t, policy=Tiresias(level_thresholds_gpu_s=(50.0,)))
    assert r.summary["preemptions"] == 0 and _start(r, 1) == 1000


def test_too_large_rejected_with_reason(one_node4, make_jobs):
    """A job larger than the whole cluster is rejected with its reason, never dropped."""
    jobs = make_jobs
    t = jobs([(0, 8, 10), (1, 2, 10)])
    r = simulate(cluster=one_node4, trace=t, policy="fifo")
    s = r.summary
    assert s["rejected"] == 1 and s["completed"] == 1
    assert s["rejected_reasons"] == {"larger than the cluster": 1}


def test_unknown_type_rejected(one_node4, make_jobs):
    jobs = make_jobs
    t = jobs([(0, 1, 10)], accel_type=["tpu-v5"])
    r = simulate(cluster=one_node4, trace=t, policy="fifo")
    assert r.summary["rejected"] == 1
    assert "no accelerator of type tpu-v5" in next(iter(r.summary["rejected_reasons"]))


@pytest.mark.parametrize("policy", ["fifo", "fifo-backfill", "sjf", "tiresias", "gavel", "quota"])
def test_every_policy_accounts_for_every_job(policy, make_jobs):
    """completed + rejected == jobs for every policy, on a random mixed workload."""
    jobs = make_jobs
    rng = np.random.default_rng(3)
    n = 300
    t = jobs(
        [
            (float(a), int(s), float(w))
            for a, s, w in zip(
                np.cumsum(rng.exponential(20, n)),
                rng.choice([1, 2, 4, 8, 16, 64], n),
                rng.exponential(500, n) + 1,
            )
        ],
        tenant=[f"t{i % 3}" for i in range(n)],
    )
    c = ClusterSpec.from_shape(gpus=32, gpus_per_node=8)
    s = simulate(cluster=c, trace=t, policy=policy).summary
    assert s["completed"] + s["rejected"] == n
    assert s["rejected_reasons"] == {"larger than the cluster": int(s["rejected"])}
    assert 0 < s["utilization"] <= 1

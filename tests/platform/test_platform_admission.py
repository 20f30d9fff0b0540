"""Admission as pure functions: quotas, borrowing, lending, reclaim, fair share."""

from __future__ import annotations

import heapq

from wanka.platform.admission import ActiveJob, PoolView, QueuedJob, QuotaView, decide


def _q(i: int, tenant: str, n: int = 1, prio: int = 0) -> QueuedJob:
    return QueuedJob(id=f"{tenant}{i}", tenant=tenant, accelerators=n, priority=prio, created_at=i)


def test_nominal_quota_admits_two_of_three() -> None:
    """Nominal 2 in a pool of 4, no borrowing: three 1-accelerator jobs -> two admitted."""
    pool = PoolView(capacity=4, quotas={"a": QuotaView(nominal=2), "b": QuotaView(nominal=2)})
    d = decide(pool, [_q(i, "a") for i in range(3)])
    assert d.admit == ["a0", "a1"]
    assert "quota" in d.wait["a2"]


def test_finishing_one_admits_the_third() -> None:
    """With one of the two running jobs gone, the queued third fits."""
    pool = PoolView(
        capacity=4,
        quotas={"a": QuotaView(nominal=2)},
        active=(ActiveJob(id="a0", tenant="a", accelerators=1),),
    )
    assert decide(pool, [_q(2, "a")]).admit == ["a2"]


def test_borrowing_up_to_the_limit() -> None:
    """An idle tenant's quota is lent: A borrows up to borrow_limit and no further."""
    pool = PoolView(
        capacity=4, quotas={"a": QuotaView(nominal=2, borrow_limit=1), "b": QuotaView(nominal=2)}
    )
    d = decide(pool, [_q(i, "a") for i in range(4)])
    assert d.admit == ["a0", "a1", "a2"]
    assert "a3" in d.wait


def test_lend_limit_keeps_part_of_the_quota() -> None:
    """B lends at most 1 of its 2: A (borrow 2) gets only 3 while B is idle."""
    pool = PoolView(
        capacity=4,
        quotas={"a": QuotaView(nominal=2, borrow_limit=2), "b": QuotaView(nominal=2, lend_limit=1)},
    )
    assert len(decide(pool, [_q(i, "a") for i in range(4)]).admit) == 3


def test_reclaim_preempts_the_borrower() -> None:
    """B submits within its nominal quota while A borrows B's share: A's newest job is preempted."""
    active = tuple(
        ActiveJob(id=f"a{i}", tenant="a", accelerators=1, admitted_at=i) for i in range(4)
    )
    pool = PoolView(
        capacity=4,
        quotas={"a": QuotaView(nominal=2, borrow_limit=2), "b": QuotaView(nominal=2)},
        active=active,
    )
    d = decide(pool, [_q(9, "b")])
    assert d.admit == ["b9"]
    assert [v for v, _ in d.preempt] == ["a3"]
    assert "reclaim" in d.preempt[0][1]


def test_no_reclaim_beyond_nominal() -> None:
    """A tenant above its own nominal quota cannot preempt others."""
    active = (
        ActiveJob(id="a0", tenant="a", accelerators=2),
        ActiveJob(id="b0", tenant="b", accelerators=2),
    )
    pool = PoolView(
        capacity=4,
        quotas={
            "a": QuotaView(nominal=2, borrow_limit=2),
            "b": QuotaView(nominal=2, borrow_limit=2),
        },
        active=active,
    )
    d = decide(pool, [_q(1, "b")])
    assert d.admit == [] and d.preempt == []


def test_priority_first() -> None:
    """A higher-priority job is admitted before an older one."""
    pool = PoolView(capacity=1, quotas={"a": QuotaView(nominal=1)})
    d = decide(pool, [_q(0, "a"), _q(1, "a", prio=5)])
    assert d.admit == ["a1"]


def test_big_job_does_not_block_small_ones() -> None:
    """BestEffortFIFO: a job that does not fit leaves room for later ones that do."""
    pool = PoolView(
        capacity=4,
        quotas={"a": QuotaView(nominal=4)},
        active=(ActiveJob(id="x", tenant="a", accelerators=2),),
    )
    d = decide(pool, [_q(0, "a", n=4), _q(1, "a", n=1)])
    assert d.admit == ["a1"]


def test_weighted_fair_share_two_to_one() -> None:
    """Weights 2:1, both tenants always backlogged, equal 1-accelerator jobs of 10 s on 12
    accelerators (quotas 0, borrowing up to the pool): admitted accelerator-seconds are 2:1
    within 10 % over a 2,000 s window."""
    quotas = {
        "a": QuotaView(nominal=0, borrow_limit=12, weight=2.0),
        "b": QuotaView(nominal=0, borrow_limit=12, weight=1.0),
    }
    t, seq, running, ends = 0.0, 0, {}, []
    granted = {"a": 0.0, "b": 0.0}
    while t < 2000:
        queued = [
            QueuedJob(id=f"{x}{seq}-{k}", tenant=x, accelerators=1, created_at=t)
            for x in ("a", "b")
            for k in range(12)
        ]
        seq += 1
        active = tuple(ActiveJob(id=j, tenant=x, accelerators=1) for j, x in running.items())
        d = decide(PoolView(capacity=12, quotas=quotas, active=active), queued)
        for jid in d.admit:
            x = jid[0]
            running[jid] = x
            heapq.heappush(ends, (t + 10.0, jid))
            granted[x] += min(10.0, 2000 - t)
        t, jid = heapq.heappop(ends)
        running.pop(jid)
        while ends and ends[0][0] == t:
            running.pop(heapq.heappop(ends)[1])
    ratio = granted["a"] / granted["b"]
    assert abs(ratio - 2.0) / 2.0 < 0.10, ratio

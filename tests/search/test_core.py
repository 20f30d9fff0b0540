"""The search pipeline: counts, the best plan against brute force, infeasible answers, progress, --run."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from wanka.catalogs import get_accelerator
from wanka.errors import ConfigError
from wanka.parallel import ParallelPlan
from wanka.search.core import search, search_run
from wanka.search.space import count_candidates, iter_candidates, space_dims


def _run(model, fake, *, count=16, gbs=64, hbm=None, **kw):
    acc = get_accelerator("h100-sxm")
    hbm = acc.hbm_bytes if hbm is None else hbm
    acc = replace(acc, hbm_bytes=hbm)
    sc = fake(model, count=count, hbm_bytes=hbm, seq_len=model.seq_len, global_batch_size=gbs)
    return search(
        model, acc, count=count, global_batch_size=gbs, scorer=sc, use_predict=False, **kw
    ), sc


def test_counts_add_up(tiny_model, fake):
    """space >= divisible candidates = evaluated + pruned by the memory bound >= feasible."""
    res, _ = _run(tiny_model, fake)
    dims = space_dims(tiny_model, count=16, global_batch_size=64)
    n = count_candidates(
        tiny_model, dims, count=16, global_batch_size=64, seq_len=tiny_model.seq_len
    )
    assert res.space == dims.size()
    assert res.evaluated + res.pruned_memory == n
    assert 0 < res.feasible <= res.evaluated
    d = res.to_dict()
    for k in ("space", "evaluated", "feasible", "seconds", "best", "top", "pareto"):
        assert k in d
    assert (
        d["best"]["parallelism"]["tp"]
        * d["best"]["parallelism"]["pp"]
        * d["best"]["parallelism"]["cp"]
        * d["best"]["parallelism"]["dp"]
        == 16
    )


def test_best_is_the_brute_force_best(tiny_model, fake):
    """The best plan has the highest tokens/s/GPU among every feasible candidate."""
    res, sc = _run(tiny_model, fake, chunk_size=97)
    dims = space_dims(tiny_model, count=16, global_batch_size=64)
    best = -np.inf
    for c in iter_candidates(
        tiny_model, dims, count=16, global_batch_size=64, seq_len=tiny_model.seq_len
    ):
        m = sc(c, "bf16", None)
        if m["fits"].any():
            best = max(best, m["tokens_per_s_per_gpu"][m["fits"]].max())
    assert res.best["tokens_per_s_per_gpu"] == pytest.approx(best)
    tps = [p["tokens_per_s_per_gpu"] for p in res.top]
    assert tps == sorted(tps, reverse=True)
    mems = [p["peak_memory_gib"] for p in res.pareto]
    assert mems == sorted(mems, reverse=True)  # front: throughput down, memory down


def test_memory_bound_never_prunes_a_fitting_plan(tiny_model, fake):
    """Turning the memory pre-prune off finds the same best plan."""
    a, _ = _run(tiny_model, fake, hbm=2e7)
    b, _ = _run(tiny_model, fake, hbm=2e7, memory_prune=False)
    assert b.pruned_memory == 0 and a.pruned_memory > 0
    assert a.feasible == b.feasible
    assert a.best["tokens_per_s_per_gpu"] == b.best["tokens_per_s_per_gpu"]


def test_nothing_fits_is_an_answer(tiny_model, fake):
    """When no layout fits, best is None and the binding constraint says by how much."""
    res, _ = _run(tiny_model, fake, hbm=1e4, memory_prune=False)
    assert res.best is None and res.feasible == 0
    inf = res.infeasible
    assert inf["binding_constraint"] == "memory" and inf["short_by_gib"] > 0
    res2, _ = _run(tiny_model, fake, hbm=1e4)
    assert res2.best is None and res2.infeasible["binding_constraint"] == "memory"


def test_no_divisible_layout(tiny_model, fake):
    """A count with no valid layout reports the divisibility constraint."""
    res, _ = _run(tiny_model, fake, count=7, gbs=64)
    assert res.best is None and res.infeasible["binding_constraint"] == "divisibility"


def test_progress_callback(tiny_model, fake):
    """progress(done, total) is called from 0 up to total."""
    seen = []
    _run(tiny_model, fake, chunk_size=50, progress=lambda d, t: seen.append((d, t)))
    assert seen[0][0] == 0 and seen[-1][0] == seen[-1][1]
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_bad_inputs(tiny_model):
    acc = get_accelerator("h100-sxm")
    with pytest.raises(ConfigError):
        search(tiny_model, acc, count=0, global_batch_size=8)
    with pytest.raises(ConfigError):
        search(tiny_model, acc, count=8, global_batch_size=-1)
    with pytest.raises(ConfigError):
        search(
            tiny_model,
            get_accelerator("a100-80gb"),
            count=8,
            global_batch_size=8,
            precisions=("fp8",),
        )


def test_real_perf_small_search(tiny_model):
    """With the real vectorised model: plans are predict-shaped and the best has the top throughput."""
    res = search(tiny_model, get_accelerator("h100-sxm"), count=16, global_batch_size=64)
    assert res.best is not None
    for k in ("tokens_per_s_per_gpu", "step_time_s", "mfu", "peak_memory_gib", "fits", "breakdown"):
        assert k in res.best
    assert res.best["tokens_per_s_per_gpu"] >= res.top[-1]["tokens_per_s_per_gpu"]
    assert res.explanation


def test_search_run_never_worse_than_published(tiny_model):
    """--run: the published layout is in the space, and the best plan is at least as fast."""
    from wanka.spec import HardwareSpec, RunSpec

    acc = get_accelerator("h100-sxm")
    plan = ParallelPlan(
        tp=2, pp=2, dp=4, micro_batch_size=1, global_batch_size=64, sequence_parallel=True
    )
    run = RunSpec(
        id="t",
        model=tiny_model,
        hardware=HardwareSpec(accelerator=acc, count=16, gpus_per_node=8),
        parallelism=plan,
        precision="bf16",
    )
    res = search_run(run)
    pub = res.published
    assert pub["in_space"]
    assert res.best["tokens_per_s_per_gpu"] >= pub["plan"]["tokens_per_s_per_gpu"] * (1 - 1e-9)
    assert pub["gain"] >= 1 - 1e-9


def test_search_run_times_the_published_layout_as_predict_does():
    """--run applies the run's framework to every plan: llm-foundry's FlashAttention-2 kernels on an
    H100 and its bf16 fused cross-entropy give the published layout exactly `predict`'s figures."""
    from wanka.perf.predict import predict
    from wanka.spec import HardwareSpec, RunSpec
    from wanka.workload.presets import get_model

    plan = ParallelPlan(dp=16, micro_batch_size=1, global_batch_size=64, fsdp="full")
    run = RunSpec(
        id="t",
        model=get_model("llama3-8b"),
        hardware=HardwareSpec(accelerator=get_accelerator("h100-sxm"), count=16, gpus_per_node=8),
        parallelism=plan,
        precision="bf16",
        framework="llm-foundry",
    )
    pub = search_run(run).published["plan"]
    ref = predict(run)
    assert pub["tokens_per_s_per_gpu"] == pytest.approx(ref["tokens_per_s_per_gpu"], rel=1e-9)
    assert pub["peak_memory_gib"] == pytest.approx(ref["peak_memory_gib"], rel=1e-9)
    plain = search_run(replace(run, framework=None)).published["plan"]
    assert plain["tokens_per_s_per_gpu"] > pub["tokens_per_s_per_gpu"]  # FA2 is slower on Hopper
    assert plain["peak_memory_gib"] > pub["peak_memory_gib"]  # fp32 loss gradient


def test_moe_search_includes_ep(tiny_moe, fake):
    """A mixture-of-experts model searches ep and etp too."""
    res, _ = _run(tiny_moe, fake, count=16, gbs=32)
    assert len(res.dims["ep"]) > 1 and len(res.dims["etp"]) > 1
    assert res.best is not None


def test_search_run_keeps_the_real_memory_when_the_published_layout_does_not_fit(tiny_model, fake):
    """A published layout predicted over memory is flagged; candidates still need the chip's real HBM."""
    from wanka.spec import HardwareSpec, RunSpec

    acc = replace(get_accelerator("h100-sxm"), hbm_bytes=1e4)  # nothing fits in 10 kB
    plan = ParallelPlan(
        tp=2, pp=2, dp=4, micro_batch_size=1, global_batch_size=64, sequence_parallel=True
    )
    run = RunSpec(
        id="t",
        model=tiny_model,
        hardware=HardwareSpec(accelerator=acc, count=16, gpus_per_node=8),
        parallelism=plan,
        precision="bf16",
    )
    sc = fake(tiny_model, count=16, hbm_bytes=1e4, seq_len=tiny_model.seq_len, global_batch_size=64)
    res = search_run(run, scorer=sc, use_predict=False)
    pub = res.published
    assert pub["fits"] is False and pub["plan"]["fits"] is False and pub["memory_note"]
    assert res.best is None  # nothing fits the real 10 kB: no relaxed "best"


def test_parallel_workers_give_the_same_answer(tiny_model, fake):
    """Forked workers split the chunks; counts, best plan and front match one process."""
    a, _ = _run(tiny_model, fake, chunk_size=300, workers=1)
    b, _ = _run(tiny_model, fake, chunk_size=300, workers=2)
    assert (a.evaluated, a.feasible, a.pruned_memory) == (b.evaluated, b.feasible, b.pruned_memory)
    assert a.best["tokens_per_s_per_gpu"] == b.best["tokens_per_s_per_gpu"]
    assert [p["tokens_per_s_per_gpu"] for p in a.pareto] == [
        p["tokens_per_s_per_gpu"] for p in b.pareto
    ]

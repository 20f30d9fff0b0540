"""The step model on hybrid Mamba/attention MoE models (Nemotron 3 Nano)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from wanka.catalogs import get_accelerator
from wanka.perf import PlanArrays, evaluate
from wanka.perf.memory import activation_bytes_per_token, hybrid_activation_bytes_per_token
from wanka.perf.stages import _hybrid_stage_counts
from wanka.perf.step import plan_problems
from wanka.workload.counts import flops_per_step
from wanka.workload.presets import get_model

ACC = get_accelerator("h100-sxm")


def nano():
    return get_model("nemotron3-nano-30b-a3b")


def run(
    model,
    plans: PlanArrays,
    count: int = 64,
    precision: str = "bf16",
    gbs: int = 512,
    s: int = 8192,
):
    return evaluate(
        model,
        ACC,
        plans,
        count=count,
        gpus_per_node=8,
        global_batch_size=gbs,
        seq_len=s,
        precision=precision,
    )


def grid() -> PlanArrays:
    tp = np.array([1, 1, 2, 4, 8, 1, 2, 1])
    pp = np.array([1, 2, 1, 1, 1, 4, 2, 1])
    cp = np.array([1, 1, 1, 1, 1, 1, 1, 2])
    ep = np.array([8, 8, 8, 16, 8, 16, 4, 8])
    return PlanArrays.of(
        tp=tp,
        pp=pp,
        cp=cp,
        ep=ep,
        etp=np.ones(8),
        dp=64 // (tp * pp * cp),
        micro_batch_size=1,
        recompute=np.array([0, 0, 1, 2, 0, 0, 2, 0]),
    )


def test_nano_step_is_finite_and_consistent() -> None:
    m = nano()
    r = run(m, grid())
    assert r.valid.all()
    assert np.isfinite(r.step_time_s).all() and (r.tokens_per_s_per_gpu > 0).all()
    # model TFLOP/s are Megatron's hybrid count over the predicted step
    flops = flops_per_step(m, 512, 8192)
    assert np.allclose(r.model_tflops_per_gpu * 1e12 * r.step_time_s * 64, flops, rtol=1e-9)
    assert (r.exposed_ep_s > 0).all()  # all-to-all on the 23 MoE layers
    assert (r.peak_memory_bytes > r.weights_bytes).all()


def test_vectorised_equals_row_by_row() -> None:
    m, plans = nano(), grid()
    r = run(m, plans)
    for i in range(len(plans)):
        one = run(m, plans.take([i]))
        assert one.step_time_s[0] == pytest.approx(r.step_time_s[i], rel=1e-12)
        assert one.peak_memory_bytes[0] == pytest.approx(r.peak_memory_bytes[i], rel=1e-12)


def test_mamba_tp_divisibility() -> None:
    """Megatron splits Mamba heads and B/C groups over TP: 8 groups cannot split 16 ways."""
    m = nano()
    plans = PlanArrays.of(tp=16, dp=4, ep=8, etp=1)
    assert not run(m, plans).valid[0]
    assert any(
        "mamba heads" in p
        for p in plan_problems(m, plans, 0, count=64, global_batch_size=512, seq_len=8192)
    )


def test_attention_only_on_attention_layers() -> None:
    """Turning Mamba layers into attention layers costs more at long sequence (quadratic attention)."""
    m = nano()
    more_attn = dataclasses.replace(m, layer_pattern=m.layer_pattern.replace("MEM", "*E*", 4))
    plans = PlanArrays.of(tp=1, dp=64, ep=8, etp=1)
    t_m = run(m, plans, s=32768, gbs=128).step_time_s[0]
    t_a = run(more_attn, plans, s=32768, gbs=128).step_time_s[0]
    assert t_a > t_m


def test_selective_recompute_touches_attention_layers_only() -> None:
    m = nano()
    base = run(m, PlanArrays.of(tp=1, dp=64, ep=8, etp=1, recompute="none"))
    sel = run(m, PlanArrays.of(tp=1, dp=64, ep=8, etp=1, recompute="selective"))
    full = run(m, PlanArrays.of(tp=1, dp=64, ep=8, etp=1, recompute="full"))
    assert base.recompute_s[0] == 0
    assert 0 < sel.recompute_s[0] < 0.2 * full.recompute_s[0]  # 6 attention cores vs whole forward
    assert full.activations_bytes[0] < base.activations_bytes[0]


def test_activation_split_adds_up() -> None:
    """Attention block + dense MLP block of the hybrid split = one transformer layer."""
    m = nano()
    kinds = hybrid_activation_bytes_per_token(m, 2.0, 2.0)
    whole = activation_bytes_per_token(m, 2.0, 2.0, moe_layer=False)
    assert kinds["*"] + kinds["-"] == pytest.approx(whole)
    assert kinds["M"] > 0 and kinds["E"] > 0
    # TP splits the Mamba activations (sequence parallel splits the replicated part too)
    assert hybrid_activation_bytes_per_token(m, 4.0, 4.0)["M"] < kinds["M"]


def test_stage_counts_follow_the_pattern() -> None:
    pat = nano().layer_pattern
    n = np.array([52.0, 26.0, 13.0])
    first, last, mid = _hybrid_stage_counts(pat, n, n, n)
    assert first["M"][0] == 23 and first["E"][0] == 23 and first["*"][0] == 6
    for c in "M*E-":
        assert first[c][1] + last[c][1] == pat.count(c)
    assert first["*"][2] == pat[:13].count("*") and mid["*"][2] == pat[13:26].count("*")


def test_low_precision_is_faster() -> None:
    m = nano()
    plans = PlanArrays.of(tp=1, dp=64, ep=8, etp=1)
    assert run(m, plans, precision="fp8").step_time_s[0] < run(m, plans).step_time_s[0]

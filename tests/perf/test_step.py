"""The vectorised step model: scalar == vector, monotonicity, physical bounds."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from wanka.catalogs import get_accelerator
from wanka.perf import OverlapPolicy, PlanArrays, evaluate
from wanka.perf.layer import gemm_efficiency
from wanka.perf.params import default_calibration
from wanka.workload.counts import flops_per_step
from wanka.workload.presets import get_model

H100 = get_accelerator("h100-sxm")
GB200 = get_accelerator("gb200")
LLAMA = get_model("llama3-70b")
DSV3 = get_model("deepseek-v3")
COUNT = 256

plan_rows = st.fixed_dictionaries(
    {
        "tp": st.sampled_from([1, 2, 4, 8]),
        "pp": st.sampled_from([1, 2, 4, 8]),
        "vpp": st.sampled_from([1, 2, 5]),
        "cp": st.sampled_from([1, 2]),
        "ep": st.sampled_from([1, 8, 16]),
        "micro_batch_size": st.sampled_from([1, 2]),
        "fsdp": st.sampled_from([0, 1, 2]),
        "recompute": st.sampled_from([0, 1, 2]),
        "distributed_optimizer": st.booleans(),
        "sequence_parallel": st.booleans(),
    }
)


def _plans(rows: list[dict]) -> PlanArrays:
    cols = {k: [r[k] for r in rows] for k in rows[0]}
    cols["dp"] = [max(COUNT // (r["tp"] * r["pp"] * r["cp"]), 1) for r in rows]
    cols["etp"] = [1] * len(rows)
    cols["vpp"] = [v if p > 1 else 1 for v, p in zip(cols["vpp"], cols["pp"])]
    return PlanArrays(**cols)


def _eval(model, plans, acc=H100, **kw):
    return evaluate(
        model,
        acc,
        plans,
        count=COUNT,
        gpus_per_node=8,
        global_batch_size=512,
        seq_len=model.seq_len,
        precision=kw.pop("precision", "bf16"),
        **kw,
    )


@settings(max_examples=15, deadline=None)
@given(st.lists(plan_rows, min_size=2, max_size=8), st.sampled_from(["llama", "dsv3"]))
def test_vectorised_equals_scalar(rows, which):
    """Evaluating N plans at once gives exactly what N one-row evaluations give."""
    model = LLAMA if which == "llama" else DSV3
    plans = _plans(rows)
    vec = _eval(model, plans)
    for i in range(len(plans)):
        one = _eval(model, plans.take([i]))
        for f in dataclasses.fields(vec):
            a, b = getattr(vec, f.name)[i], getattr(one, f.name)[0]
            assert (a == b) or (np.isnan(a) and np.isnan(b)) or np.isclose(a, b, rtol=1e-12), f.name


@settings(max_examples=20, deadline=None)
@given(plan_rows)
def test_more_tp_never_increases_weight_memory(row):
    """Doubling tp (halving dp) never raises the weights held per device."""
    row = dict(row, ep=1, fsdp=0, cp=1)
    lo = _plans([dict(row, tp=1)])
    hi = _plans([dict(row, tp=t) for t in (2, 4, 8)])
    w_lo = _eval(LLAMA, lo).weights_bytes[0]
    w_hi = _eval(LLAMA, hi).weights_bytes
    assert np.all(np.diff(np.concatenate([[w_lo], w_hi])) <= 0)


@settings(max_examples=20, deadline=None)
@given(plan_rows, st.sampled_from(["llama", "dsv3"]))
def test_more_recompute_never_increases_activation_memory(row, which):
    """none >= selective >= full in stored activations, for the same plan."""
    model = LLAMA if which == "llama" else DSV3
    res = _eval(model, _plans([dict(row, recompute=r) for r in (0, 1, 2)]))
    acts = res.activations_bytes
    if np.all(res.valid):
        assert acts[0] >= acts[1] >= acts[2]


@settings(max_examples=20, deadline=None)
@given(st.lists(plan_rows, min_size=1, max_size=6), st.sampled_from(["bf16", "fp8", "nvfp4"]))
def test_tokens_never_exceed_peak_flop_bound(rows, precision):
    """tokens/s/GPU * model FLOPs per token never exceeds the chip's peak for the precision."""
    res = _eval(LLAMA, _plans(rows), acc=GB200, precision=precision)
    flops_per_token = flops_per_step(LLAMA, 512, LLAMA.seq_len) / (512 * LLAMA.seq_len)
    ok = res.valid
    assert np.all(res.tokens_per_s_per_gpu[ok] * flops_per_token <= GB200.peak(precision))
    assert np.all(res.mfu[ok] <= 1.0)


def test_breakdown_sums_to_step_time():
    """compute + recompute + bubble + exposed comm + optimizer + overhead = step time."""
    plans = _plans(
        [
            {
                "tp": 4,
                "pp": 4,
                "vpp": 2,
                "cp": 1,
                "ep": 1,
                "micro_batch_size": 1,
                "fsdp": 0,
                "recompute": 1,
                "distributed_optimizer": True,
                "sequence_parallel": True,
            }
        ]
    )
    r = _eval(LLAMA, plans).row(0)
    parts = (
        r["compute_s"]
        + r["recompute_s"]
        + r["bubble_s"]
        + r["exposed_tp_s"]
        + r["exposed_cp_s"]
        + r["exposed_ep_s"]
        + r["exposed_pp_s"]
        + r["exposed_dp_s"]
        + r["optimizer_s"]
        + r["overhead_s"]
    )
    assert np.isclose(parts, r["step_time_s"], rtol=1e-9)


def test_bubble_follows_narayanan():
    """Bubble = (pp - 1) / vpp micro-batch times: interleaving by v divides it by v."""
    base = {
        "tp": 8,
        "pp": 8,
        "cp": 1,
        "ep": 1,
        "micro_batch_size": 1,
        "fsdp": 0,
        "recompute": 0,
        "distributed_optimizer": True,
        "sequence_parallel": True,
    }
    r1 = _eval(LLAMA, _plans([dict(base, vpp=1)])).row(0)
    r5 = _eval(LLAMA, _plans([dict(base, vpp=5)])).row(0)
    m = r1["microbatches"]
    per_mb1 = (
        r1["step_time_s"]
        - r1["bubble_s"]
        - r1["exposed_dp_s"]
        - r1["optimizer_s"]
        - default_calibration().step_overhead_s
    ) / m
    assert np.isclose(r1["bubble_s"], 7 * per_mb1, rtol=1e-9)
    assert r5["bubble_s"] < r1["bubble_s"] / 4


def test_invalid_plans_are_masked_not_raised():
    """A plan whose degrees do not multiply to the count is valid == False with NaN times."""
    plans = PlanArrays.of(tp=[8, 3], pp=[4, 4], dp=[8, 8])
    res = _eval(LLAMA, plans)
    assert res.valid.tolist() == [True, False]
    assert np.isnan(res.step_time_s[1]) and not res.fits[1]


def test_overlap_policy_changes_exposed_tp():
    """Hiding TP communication (tp-comm-overlap) removes exposed TP time."""
    plans = PlanArrays.of(tp=8, pp=4, dp=8)
    exposed = _eval(LLAMA, plans).exposed_tp_s[0]
    hidden = _eval(LLAMA, plans, overlap=OverlapPolicy(tp_hidden=1.0)).exposed_tp_s[0]
    assert exposed > 0 and hidden == 0


def test_small_gemms_are_less_efficient():
    """The shape curve penalises small and ragged dimensions and saturates for large ones."""
    cal = default_calibration()
    big = gemm_efficiency(8192, 8192, 8192, cal)
    small = gemm_efficiency(8192, 256, 8192, cal)
    ragged = gemm_efficiency(8192, 8192 + 1, 8192, cal)
    assert 0 < small < ragged < big <= 1


def test_megatron_flops_formula_gpt3():
    """GPT-3 175B, Megatron accounting: 6 * tokens * (params-ish) + attention, the known 1.0e15 order."""
    model = get_model("gpt3-175b")
    f = flops_per_step(model, 1, 2048) / 2048
    # Narayanan et al. 2021 eq. (3): 72 * B * s * l * h^2 * (1 + s/(6h) + V/(12 l h)) per batch of B
    h, layers, s, v = model.hidden, model.layers, 2048, model.vocab
    ref = 72 * layers * h * h * (1 + s / (6 * h) + v / (12 * layers * h)) / 1  # per token
    assert abs(f / ref - 1) < 0.02


def test_many_small_local_experts_pay_the_per_expert_cost():
    """`moe_expert_gemm_s`: each local expert's GEMMs cost a fixed time, so the step slows by
    6 GEMM calls (fc1, fc2 forward; dgrad + wgrad backward) per local expert per MoE layer."""
    plans = PlanArrays.of(tp=1, pp=1, ep=[8, 32], dp=COUNT)
    cal = default_calibration()
    base = _eval(DSV3, plans, calibration=dataclasses.replace(cal, moe_expert_gemm_s=0.0))
    cost = _eval(DSV3, plans, calibration=dataclasses.replace(cal, moe_expert_gemm_s=1e-4))
    d = (cost.compute_s - base.compute_s) / base.microbatches
    per_layer = d / (6 * 1e-4 * np.array([256 / 8, 256 / 32]))  # MoE layers timed, incl. MTP
    assert np.allclose(per_layer, np.round(per_layer), rtol=1e-6)
    n = np.round(per_layer)
    assert n[0] == n[1] and DSV3.layers - DSV3.moe.dense_layers <= n[0] <= DSV3.layers


def test_ep_all_to_all_inside_a_multi_node_nvlink_domain_uses_its_own_share():
    """EP groups inside a GB200 NVL72 domain (4 GPUs per node) take `ep_a2a_hidden_mnnvl`; an EP group
    on 8-GPU H100 nodes (scale-up domain = node) keeps `ep_a2a_hidden`."""
    cal = dataclasses.replace(default_calibration(), ep_a2a_hidden=0.5, ep_a2a_hidden_mnnvl=1.0)
    plans = PlanArrays.of(tp=1, pp=8, ep=32, dp=32)

    def ep_s(acc, gpn, c):
        return evaluate(
            DSV3,
            acc,
            plans,
            count=COUNT,
            gpus_per_node=gpn,
            global_batch_size=512,
            seq_len=4096,
            precision="bf16",
            calibration=c,
        ).exposed_ep_s[0]

    assert ep_s(GB200, 4, cal) == 0.0
    assert ep_s(GB200, 4, dataclasses.replace(cal, ep_a2a_hidden_mnnvl=0.5)) > 0.0
    h100 = ep_s(H100, 8, cal)
    assert h100 > 0.0 and np.isclose(
        h100, ep_s(H100, 8, dataclasses.replace(cal, ep_a2a_hidden_mnnvl=0.0))
    )

"""Memory formulas against Korthikanti et al. 2022 and Megatron-LM's theoretical memory."""

from __future__ import annotations

import numpy as np
import pytest

from wanka.catalogs import get_accelerator
from wanka.perf import PlanArrays, evaluate
from wanka.perf.memory import activation_bytes_per_token
from wanka.workload.counts import param_count
from wanka.workload.model import ModelSpec
from wanka.workload.presets import get_model

# GPT-3 175B as in Korthikanti et al. 2022 Table 3 (a = 96, h = 12288, s = 2048, GELU MLP of 4h, dropout)
GPT3 = ModelSpec(
    name="gpt3-175b",
    layers=96,
    hidden=12288,
    heads=96,
    kv_heads=96,
    ffn_hidden=4 * 12288,
    vocab=51200,
    seq_len=2048,
    activation="gelu",
)


@pytest.mark.parametrize("t", [1, 2, 4, 8])
def test_korthikanti_no_parallel_sequence(t):
    """Without sequence parallelism: sbh(10 + 24/t + 5as/(ht)) bytes per layer (their eq. 2 / Table 2)."""
    h, a, s = GPT3.hidden, GPT3.heads, GPT3.seq_len
    got = activation_bytes_per_token(GPT3, t, 1, moe_layer=False, dropout=True, flash=False)
    assert np.isclose(got, h * (10 + 24 / t + 5 * a * s / (h * t)))


@pytest.mark.parametrize("t", [1, 2, 4, 8])
def test_korthikanti_sequence_parallel(t):
    """With tensor + sequence parallelism: sbh(34/t + 5as/(ht)) (their eq. 4)."""
    h, a, s = GPT3.hidden, GPT3.heads, GPT3.seq_len
    got = activation_bytes_per_token(GPT3, t, t, moe_layer=False, dropout=True, flash=False)
    assert np.isclose(got, h * (34 / t + 5 * a * s / (h * t)))


def test_korthikanti_selective_is_34_over_t():
    """Selective recompute (or flash attention) removes the 5as/h term: 34 sbh / t (their eq. 6)."""
    h, t = GPT3.hidden, 8
    got = activation_bytes_per_token(GPT3, t, t, moe_layer=False, dropout=True, flash=True)
    assert np.isclose(got, h * 34 / t + 4 * GPT3.heads / t)  # + flash-attention's fp32 log-sum-exp


def test_gpt3_175b_activation_total_matches_korthikanti_table():
    """175B, t = 8, sequence parallel + selective, first stage of pp = 8 holds pp micro-batches.

    Korthikanti et al. 2022 eq. 6: 34 sbh/t per layer, L/p layers, p micro-batches in flight = 34 sbh L / t;
    `evaluate` assumes no dropout (modern recipes), which removes the two 1-byte masks: 32 sbh L / t.
    """
    acc = get_accelerator("a100-80gb")
    plans = PlanArrays.of(tp=8, pp=8, dp=1, recompute="selective", sequence_parallel=True)
    res = evaluate(
        GPT3,
        acc,
        plans,
        count=64,
        gpus_per_node=8,
        global_batch_size=64,
        seq_len=2048,
        precision="bf16",
    )
    ref = (32 * 12288 + 4 * 96) * 2048 / 8 * 96  # + flash-attention log-sum-exp (fp32 per head)
    emb = 2 * 2048 * 12288 / 8 * 8  # embedding output on stage 0 for 8 micro-batches
    got = res.activations_bytes[0]
    assert abs(got / (ref + emb) - 1) < 0.005


@pytest.mark.parametrize("dist_opt", [False, True])
def test_megatron_18_bytes_per_parameter(dist_opt):
    """Megatron-LM theoretical memory (fp32 main grads): 18 B/param, or 6 + 12/dp with the distributed
    optimizer (`theoretical_memory_usage.py`); reproduced with main_grad_bytes = 4."""
    import dataclasses

    from wanka.perf.params import default_calibration

    model = get_model("llama3-8b")
    acc = get_accelerator("h100-sxm")
    dp = 8
    cal = dataclasses.replace(default_calibration(), main_grad_bytes=4.0)
    plans = PlanArrays.of(tp=1, pp=1, dp=dp, distributed_optimizer=dist_opt)
    r = evaluate(
        model,
        acc,
        plans,
        count=dp,
        gpus_per_node=8,
        global_batch_size=64,
        seq_len=model.seq_len,
        precision="bf16",
        calibration=cal,
    ).row(0)
    params = r["weights_bytes"] / 2
    assert np.isclose(r["grads_bytes"], 4 * params)
    assert np.isclose(r["optimizer_bytes"], 12 * params / (dp if dist_opt else 1))
    assert abs(params / param_count(model).total - 1) < 0.01
    per_param = (r["weights_bytes"] + r["grads_bytes"] + r["optimizer_bytes"]) / params
    assert np.isclose(per_param, 6 + 12 / dp if dist_opt else 18)


def test_default_bf16_grad_buffer():
    """Default: Megatron-core grad_reduce_in_fp32=False (Megatron-Bridge performance recipes): 2 B grads."""
    model = get_model("llama3-8b")
    r = evaluate(
        model,
        get_accelerator("h100-sxm"),
        PlanArrays.of(tp=1, pp=1, dp=8, distributed_optimizer=True),
        count=8,
        gpus_per_node=8,
        global_batch_size=64,
        seq_len=model.seq_len,
        precision="bf16",
    ).row(0)
    assert np.isclose(r["grads_bytes"], r["weights_bytes"])


def test_fp8_param_gather_weights():
    """fp8 / mxfp8 (fp8_param_gather): 2 B/param of quantised weight + transpose, no bf16 copy; blockwise
    fp8 (fp8_param_gather off) keeps bf16 + the 2 B quantised workspace."""
    model = get_model("llama3-8b")
    acc = get_accelerator("b200")
    plans = PlanArrays.of(tp=1, pp=1, dp=8, distributed_optimizer=True)
    w = {
        p: evaluate(
            model,
            acc,
            plans,
            count=8,
            gpus_per_node=8,
            global_batch_size=64,
            seq_len=model.seq_len,
            precision=p,
        ).weights_bytes[0]
        for p in ("bf16", "fp8", "fp8-blockwise", "mxfp8")
    }
    assert np.isclose(w["fp8"], w["bf16"])
    assert np.isclose(w["fp8-blockwise"], 2 * w["bf16"])
    assert w["bf16"] < w["mxfp8"] < 1.05 * w["bf16"]


def test_fsdp_full_shards_everything():
    """ZeRO-3 / FSDP full: 16 B/param / dp - the fp32 sharded param (the master, 4 B), its fp32 sharded
    gradient (4 B) and the two Adam moments (8 B) all divide by the DP size (PyTorch FSDP)."""
    model = get_model("llama3-70b")
    acc = get_accelerator("h100-sxm")
    plans = PlanArrays.of(tp=1, pp=1, dp=[64, 128], fsdp="full", recompute="full")
    r = evaluate(
        model,
        acc,
        plans,
        count=np.array([64, 128]).max(),
        gpus_per_node=8,
        global_batch_size=128,
        seq_len=model.seq_len,
        precision="bf16",
    )
    # the count is 128: only the dp = 128 row is valid
    assert r.valid.tolist() == [False, True]
    params = param_count(model).total
    assert abs(r.weights_bytes[1] / (4 * params / 128) - 1) < 0.02
    assert abs(r.grads_bytes[1] / (4 * params / 128) - 1) < 0.02
    assert abs(r.optimizer_bytes[1] / (8 * params / 128) - 1) < 0.02


@pytest.mark.parametrize("pp,vpp", [(4, 1), (8, 1), (4, 2), (8, 4)])
def test_in_flight_microbatches_follow_megatron_schedule(pp, vpp):
    """Stage 0 holds pp (1F1B) or pp + (pp-1)/vpp (interleaved; Korthikanti et al. 2022 sec. 4.2.3)
    micro-batches of its layers; the last stage 1 (1F1B) or pp - (pp-1)/vpp (interleaved warm-up of
    Megatron-core's get_pp_rank_microbatches)."""
    model = ModelSpec(
        name="toy",
        layers=64,
        hidden=4096,
        heads=32,
        kv_heads=8,
        ffn_hidden=14336,
        vocab=32000,
        seq_len=4096,
        activation="swiglu",
        tied_embeddings=True,
    )
    acc = get_accelerator("gb200")
    plans = PlanArrays.of(tp=1, pp=pp, vpp=vpp, dp=1)
    r = evaluate(
        model,
        acc,
        plans,
        count=pp,
        gpus_per_node=4,
        global_batch_size=4 * pp,
        seq_len=4096,
        precision="bf16",
    ).row(0)
    per_mb_layer = activation_bytes_per_token(model, 1, 1, moe_layer=False) * 4096
    stage_layers = model.layers / pp
    expected = (pp + (pp - 1) / vpp if vpp > 1 else pp) * stage_layers * per_mb_layer
    expected += (
        2 * model.hidden * 4096 * (pp + (pp - 1) / vpp if vpp > 1 else pp)
    )  # embedding output
    assert abs(r["activations_bytes"] / expected - 1) < 0.01


def test_example_llama3_70b_fits_on_h100():
    """The bundled 1,024-H100 Llama 3 70B layout fits in 80 GB."""
    from pathlib import Path

    from wanka.perf import predict
    from wanka.spec import load_runs

    run = load_runs(Path(__file__).resolve().parents[2] / "examples" / "llama3-70b-h100.yaml")[0]
    out = predict(run)
    assert out["fits"] and 40 < out["peak_memory_gib"] < 80


def test_fused_cross_entropy_keeps_a_bf16_loss_gradient():
    """The last stage holds the bf16 logits and their loss gradient: T V / tp (2 + 4) bytes with an fp32
    cross-entropy (the default), T V / tp (2 + 2) with a fused bf16 one (llm-foundry's MPT loss,
    flash-attn's CrossEntropyLoss), the rest of the memory unchanged."""
    from wanka.perf.params import OverlapPolicy

    model = get_model("llama3-8b")
    plans = PlanArrays.of(tp=2, dp=4, micro_batch_size=2)
    kw = dict(count=8, gpus_per_node=8, global_batch_size=64, seq_len=4096, precision="bf16")
    acc = get_accelerator("h100-sxm")
    fp32 = evaluate(model, acc, plans, **kw)
    bf16 = evaluate(model, acc, plans, overlap=OverlapPolicy(loss_grad_bytes=2.0), **kw)
    tokens = 2 * 4096
    saved = fp32.activations_bytes[0] - bf16.activations_bytes[0]
    assert np.isclose(saved, tokens * model.vocab / 2 * 2.0)
    assert np.isclose(fp32.peak_memory_bytes[0] - bf16.peak_memory_bytes[0], saved)
    assert fp32.weights_bytes[0] == bf16.weights_bytes[0]


def test_fsdp_nvfp4_keeps_the_quantised_weights_it_saves_for_the_backward():
    """FSDP full with nvfp4: Transformer Engine quantises each gathered bf16 weight and saves its
    column-wise NVFP4 copy (0.5 B + one fp8 scale per 16 per parameter) for the backward, unsharded:
    every layer's without recompute, one layer's at a time with full recompute. mxfp8 (the param is the
    quantised tensor, nothing extra saved) runs the same layout with the same saved inputs otherwise."""
    from wanka.perf.memory import FSDP_SAVED_QUANT_BYTES

    model = get_model("llama3-8b")
    acc = get_accelerator("gb200")
    plans = PlanArrays.of(dp=8, fsdp="full", recompute=[0, 2], distributed_optimizer=False)
    kw = dict(count=8, gpus_per_node=4, global_batch_size=64, seq_len=4096)
    nv = evaluate(model, acc, plans, precision="nvfp4", **kw)
    mx = evaluate(model, acc, plans, precision="mxfp8", **kw)
    params = param_count(model).total
    extra = nv.activations_bytes - mx.activations_bytes
    assert FSDP_SAVED_QUANT_BYTES["nvfp4"] == 0.5 + 1 / 16
    assert np.isclose(extra[0], 0.5625 * params, rtol=1e-6)
    assert np.isclose(extra[1], 0.5625 * params / model.layers, rtol=1e-6)
    assert np.allclose(nv.weights_bytes, mx.weights_bytes)

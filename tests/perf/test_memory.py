"""Memory formulas against Korthikanti et al. 2022 and Megatron-LM's theoretical memory."""

from __future__ import annotations

import numpy as np
import pytest

from wanka.catalogs import get_accelerator
from wanka.perf import PlanArrays, evaluate
from wanka.perf.step import activation_bytes_per_token
from wanka.workload.counts import param_count
from wanka.workload.model import ModelSpec
from wanka.workload.presets import get_model

# GPT-3 175B as in Korthikanti et al. 2022 Table 3 (a = 96, h = 12288, s = 2048, GELU MLP of 4h, dropout)
GPT3 = ModelSpec(name="gpt3-175b", layers=96, hidden=12288, heads=96, kv_heads=96, ffn_hidden=4 * 12288,
                 vocab=51200, seq_len=2048, activation="gelu")


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
    assert np.isclose(got, h * 34 / t + 4 * GPT3.heads / t)   # + flash-attention's fp32 log-sum-exp


def test_gpt3_175b_activation_total_matches_korthikanti_table():
    """175B, t = 8, sequence parallel + selective, first stage of pp = 8 holds pp micro-batches.

    Korthikanti et al. 2022 eq. 6: 34 sbh/t per layer, L/p layers, p micro-batches in flight = 34 sbh L / t;
    `evaluate` assumes no dropout (modern recipes), which removes the two 1-byte masks: 32 sbh L / t.
    """
    acc = get_accelerator("a100-80gb")
    plans = PlanArrays.of(tp=8, pp=8, dp=1, recompute="selective", sequence_parallel=True)
    res = evaluate(GPT3, acc, plans, count=64, gpus_per_node=8, global_batch_size=64, seq_len=2048,
                   precision="bf16")
    ref = (32 * 12288 + 4 * 96) * 2048 / 8 * 96      # + flash-attention log-sum-exp (fp32 per head)
    emb = 2 * 2048 * 12288 / 8 * 8  # embedding output on stage 0 for 8 micro-batches
    got = res.activations_bytes[0]
    assert abs(got / (ref + emb) - 1) < 0.005


@pytest.mark.parametrize("dist_opt", [False, True])
def test_megatron_18_bytes_per_parameter(dist_opt):
    """Megatron-LM theoretical memory: 18 B/param, or 6 + 12/dp with the distributed optimizer."""
    model = get_model("llama3-8b")
    acc = get_accelerator("h100-sxm")
    dp = 8
    plans = PlanArrays.of(tp=1, pp=1, dp=dp, distributed_optimizer=dist_opt)
    r = evaluate(model, acc, plans, count=dp, gpus_per_node=8, global_batch_size=64, seq_len=model.seq_len,
                 precision="bf16").row(0)
    params = r["weights_bytes"] / 2
    assert np.isclose(r["grads_bytes"], 4 * params)
    assert np.isclose(r["optimizer_bytes"], 12 * params / (dp if dist_opt else 1))
    assert abs(params / param_count(model).total - 1) < 0.01


def test_fsdp_full_shards_everything():
    """ZeRO-3 / FSDP full: weights, gradients and optimizer states all divide by the DP size."""
    model = get_model("llama3-70b")
    acc = get_accelerator("h100-sxm")
    plans = PlanArrays.of(tp=1, pp=1, dp=[64, 128], fsdp="full", recompute="full")
    r = evaluate(model, acc, plans, count=np.array([64, 128]).max(), gpus_per_node=8, global_batch_size=128,
                 seq_len=model.seq_len, precision="bf16")
    # the count is 128: only the dp = 128 row is valid
    assert r.valid.tolist() == [False, True]
    params = param_count(model).total
    assert abs(r.weights_bytes[1] / (2 * params / 128) - 1) < 0.02
    assert abs(r.optimizer_bytes[1] / (12 * params / 128) - 1) < 0.02


def test_example_llama3_70b_fits_on_h100():
    """The bundled 1,024-H100 Llama 3 70B layout fits in 80 GB."""
    from pathlib import Path

    from wanka.perf import predict
    from wanka.spec import load_runs

    run = load_runs(Path(__file__).resolve().parents[2] / "examples" / "llama3-70b-h100.yaml")[0]
    out = predict(run)
    assert out["fits"] and 40 < out["peak_memory_gib"] < 80

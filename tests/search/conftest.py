"""Fixtures for the search tests: a tiny model and a made-up, monotone stand-in for `perf.evaluate`."""

from __future__ import annotations

import numpy as np
import pytest

from wanka.search.space import memory_lower_bound
from wanka.workload.model import ModelSpec, MoESpec


def make_fake_scorer(model, *, count, hbm_bytes, seq_len, global_batch_size):
    """Scorer(cols, precision, overlap): compute + bubble + DP comm; memory = 3x (1.2x with full recompute)
    the search's lower bound, so the lower bound never prunes a candidate that this scorer says fits."""

    def score(cols, precision, overlap):
        tp, pp, cp, dp, vpp, mbs = (
            cols[k].astype(float) for k in ("tp", "pp", "cp", "dp", "vpp", "micro_batch_size")
        )
        n_micro = global_batch_size / (mbs * dp)
        compute = 1.0 + 0.05 * np.log2(tp) + 0.02 * np.log2(cp)
        compute = compute * np.where(
            cols["recompute"] == 2, 1.33, np.where(cols["recompute"] == 1, 1.03, 1.0)
        )
        bubble = compute * (pp - 1) / (vpp * n_micro)
        dp_comm = 0.1 * np.log2(dp + 1) * np.where(cols["fsdp"] > 0, 1.5, 1.0)
        step = compute + bubble + dp_comm
        mem = memory_lower_bound(model, cols, count=count, seq_len=seq_len)
        mem = (
            mem
            * np.where(cols["recompute"] == 2, 1.2, 3.0)
            * np.where(cols["distributed_optimizer"], 1.0, 1.5)
        )
        n = len(tp)
        return {
            "tokens_per_s_per_gpu": global_batch_size * seq_len / step / count,
            "step_time_s": step,
            "peak_memory_bytes": mem,
            "fits": mem <= hbm_bytes,
            "valid": np.ones(n, dtype=bool),
            "compute_s": compute,
            "recompute_s": np.zeros(n),
            "bubble_s": bubble,
            "optimizer_s": np.zeros(n),
            "exposed_dp_s": dp_comm,
            "mfu": np.full(n, 0.4),
            "model_tflops_per_gpu": np.full(n, 100.0),
        }

    return score


@pytest.fixture
def tiny_model() -> ModelSpec:
    return ModelSpec(
        name="tiny",
        layers=8,
        hidden=512,
        heads=8,
        kv_heads=4,
        ffn_hidden=1536,
        vocab=1000,
        seq_len=256,
    )


@pytest.fixture
def tiny_moe() -> ModelSpec:
    return ModelSpec(
        name="tiny-moe",
        layers=6,
        hidden=256,
        heads=8,
        kv_heads=8,
        ffn_hidden=1024,
        vocab=1000,
        seq_len=128,
        type="moe",
        moe=MoESpec(experts=8, top_k=2, expert_ffn=256),
    )


@pytest.fixture
def fake():
    return make_fake_scorer

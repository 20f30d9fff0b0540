"""The request-level serving simulation: M/D/1 queueing at low load, saturation, preemption."""

from __future__ import annotations

import numpy as np
import pytest

from wanka.catalogs import get_accelerator
from wanka.serve import Engine, EngineDefaults, Layouts, model_shape
from wanka.serve.server import StepTable, simulate_server
from wanka.workload.presets import get_model

H100 = get_accelerator("h100-sxm")


def _engine(**eng):
    return Engine(model_shape(get_model("llama3-8b")), H100, "fp8", "fp8",
                  engine=EngineDefaults(**eng))  # fmt: skip


def test_step_table_matches_the_vectorised_model():
    """The simulation's lookup table is an exact decomposition of `iteration_time`."""
    eng = _engine()
    lay = Layouts.of(1)
    table = StepTable(eng, lay, 8192)
    direct = eng.step(lay, n_dec=37.0, ctx_dec=37 * 900.0, n_pre=500.0, pre_pairs=500 * 260.0,
                      n_out=38.0).total_s[0]  # fmt: skip
    assert table.time(537, 38, 37 * 900.0, 500 * 260.0) == pytest.approx(direct, rel=1e-9)


def test_low_load_reproduces_md1_waiting_time():
    """One request at a time (max_batch 1) makes the engine a single deterministic server: Poisson
    arrivals then wait as in M/D/1, mean W_q = rho * D / (2 (1 - rho)) (Pollaczek-Khinchine with zero
    service variance; Kleinrock, Queueing Systems vol. 1, eq. 5.85), TTFT = W_q + prompt time."""
    eng = _engine(max_batch=1)
    lay = Layouts.of(1)
    isl, osl = 256.0, 16.0
    table = StepTable(eng, lay, eng.eng.max_num_tokens)
    t_pre = table.time(int(isl), 1, 0.0, isl * isl / 2.0)
    t_dec = sum(table.time(1, 1, isl + g, 0.0) for g in range(1, int(osl)))
    service = t_pre + t_dec  # deterministic: same prompt and output length for every request
    for rho in (0.2, 0.5):
        res = simulate_server(eng, lay, rate=rho / service, isl=isl, osl=osl, requests=6000,
                              seed=1, table=table)  # fmt: skip
        wq = float(np.mean(res.ttft_s)) - t_pre
        expected = rho * service / (2.0 * (1.0 - rho))
        assert wq == pytest.approx(expected, rel=0.12), (rho, wq, expected)
        assert not res.saturated


def test_very_low_load_ttft_is_the_prompt_time():
    """With requests far apart, nothing queues: p50 TTFT is the prompt's own iteration time."""
    eng = _engine()
    lay = Layouts.of(1)
    table = StepTable(eng, lay, eng.eng.max_num_tokens)
    res = simulate_server(eng, lay, rate=0.05, isl=512, osl=8, requests=200, table=table)
    assert res.pct("ttft", 50) == pytest.approx(table.time(512, 1, 0.0, 512 * 256.0), rel=1e-6)


def test_overload_is_reported_as_saturated():
    """Arrivals far above the offline capacity leave a growing queue."""
    eng = _engine()
    lay = Layouts.of(1)
    cap = eng.offline(lay, 1000.0, 200.0)
    mu = cap.output_tokens_per_s_per_gpu[0] / 200.0
    res = simulate_server(eng, lay, rate=3.0 * mu, isl=1000, osl=200, requests=1500)
    assert res.saturated
    assert res.output_tokens_per_s < 3.0 * mu * 200.0


def test_kv_exhaustion_preempts_with_on_demand_blocks():
    """On-demand KV blocks (vLLM) and a pool too small for the load: running requests are preempted
    and recomputed, yet every request completes."""
    eng = _engine(no_evict=False, gpu_memory_utilization=0.2)
    lay = Layouts.of(1)
    kv = eng.capacity(lay)[0][0]
    assert 2000 < kv < 200_000
    res = simulate_server(eng, lay, rate=40.0, isl=1000, osl=400, requests=400)
    assert res.preemptions > 0
    assert res.completed == 400

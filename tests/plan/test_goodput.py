"""Time-to-train arithmetic: the Llama 3 failure rate, Young/Daly checkpointing, tokens / (tokens/s)."""

from __future__ import annotations

import math

import pytest

from wanka.errors import ConfigError
from wanka.plan.goodput import LLAMA3_FAILURES_PER_GPU_HOUR, Reliability, goodput, time_to_train_s


def test_llama3_rate():
    """419 interruptions / (54 days x 24 h x 16,384 GPUs)."""
    assert LLAMA3_FAILURES_PER_GPU_HOUR == pytest.approx(419 / 21_233_664)
    g = goodput(16_384)
    assert g.job_mtbf_s / 3600 == pytest.approx(54 * 24 / 419)  # one interruption every 3.09 h


def test_young_daly_by_hand():
    """tau = sqrt(2 delta M); waste = delta/tau + (tau/2 + R)/M."""
    rel = Reliability(failures_per_accelerator_hour=1e-4, checkpoint_save_s=60, restart_s=600)
    g = goodput(1000, rel)
    m = 3600 / (1e-4 * 1000)  # 36,000 s
    tau = math.sqrt(2 * 60 * m)
    assert g.checkpoint_interval_s == pytest.approx(tau)
    assert g.goodput == pytest.approx(1 - 60 / tau - (tau / 2 + 600) / m)


def test_fixed_interval_and_monotone():
    """A stated interval is used as is; goodput falls as the job grows."""
    rel = Reliability(checkpoint_interval_s=1800)
    assert goodput(4096, rel).checkpoint_interval_s == 1800
    gs = [goodput(n).goodput for n in (8, 1024, 16_384, 131_072)]
    assert gs == sorted(gs, reverse=True)
    assert goodput(10**9).goodput == 0.01  # floored, never zero or negative


def test_no_failures():
    g = goodput(1000, Reliability(failures_per_accelerator_hour=0.0))
    assert g.goodput == 1.0 and math.isinf(g.job_mtbf_s)


def test_time_to_train():
    """days = tokens / (tokens/s x goodput) / 86,400."""
    assert time_to_train_s(10e12, 1e6, 0.9) == pytest.approx(10e12 / 0.9e6)
    assert math.isinf(time_to_train_s(1e9, 0.0))
    with pytest.raises(ConfigError):
        time_to_train_s(0, 1.0)


def test_mtbf_constructor_and_errors():
    assert Reliability.from_mtbf_hours(50_000).failures_per_accelerator_hour == pytest.approx(2e-5)
    with pytest.raises(ConfigError):
        Reliability(restart_s=-1)
    with pytest.raises(ConfigError):
        goodput(0)

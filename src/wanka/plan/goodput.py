"""Time-to-train with failures: tokens / (tokens/s x goodput), goodput from MTBF and checkpointing.

Failure rate. Llama 3 (Dubey et al., "The Llama 3 Herd of Models", arXiv:2407.21783, section 3.3.4, Table 5)
reports 419 unexpected interruptions in a 54-day snapshot of pre-training on 16,384 H100 GPUs. Read as
independent per-accelerator failures (the failures include GPU, HBM, host, network and software causes,
all charged to the accelerators), that is

    rate = 419 / (54 days x 24 h x 16,384) = 1.97e-5 failures per accelerator-hour  (MTBF ~ 50,700 h),

so a job on N accelerators fails every M = 50,700 h / N (3.1 h at 16,384).

Checkpointing (Young 1974, "A first order approximation to the optimum checkpoint interval", CACM 17(9);
Daly 2006, "A higher order estimate of the optimum checkpoint interval for restart dumps", FGCS 22(3)):
with a blocking checkpoint cost delta and job MTBF M, the optimal interval is tau = sqrt(2 delta M) (Young;
Daly's first-order form), and the expected fraction of time lost is

    waste = delta / tau                 (checkpoint stalls)
          + (tau / 2 + R) / M           (half an interval of lost work plus the restart, per failure)

goodput = 1 - waste (floored at 1%). Defaults: delta = 30 s (an asynchronous/distributed checkpoint stalls
training only while copying state to host memory; PyTorch DCP async checkpointing blog, 2024), R = 300 s
(restart: re-scheduling, NCCL init and checkpoint load). With these the model gives ~90% at 16,384 GPUs,
matching Llama 3's "higher than 90% effective training time"; both are stated assumptions, override them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from wanka.errors import ConfigError

__all__ = ["LLAMA3_FAILURES_PER_GPU_HOUR", "Goodput", "Reliability", "goodput", "time_to_train_s"]

#: 419 unexpected interruptions / (54 days x 24 h x 16,384 GPUs), Llama 3 paper section 3.3.4.
LLAMA3_FAILURES_PER_GPU_HOUR = 419 / (54 * 24 * 16_384)
LLAMA3_SOURCE = (
    "Llama 3 (arXiv:2407.21783, sec. 3.3.4): 419 unexpected interruptions in 54 days on "
    "16,384 H100 GPUs"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reliability:
    """Failure and checkpoint parameters of a training job."""

    failures_per_accelerator_hour: float = LLAMA3_FAILURES_PER_GPU_HOUR
    checkpoint_save_s: float = 30.0
    """Training stall per checkpoint (blocking part of an asynchronous save), seconds."""
    restart_s: float = 300.0
    """Time from a failure to training again (detect, reschedule, init, load checkpoint), seconds."""
    checkpoint_interval_s: float | None = None
    """Fixed interval between checkpoints; None = the Young/Daly optimum sqrt(2 delta M)."""
    source: str = LLAMA3_SOURCE

    def __post_init__(self) -> None:
        if self.failures_per_accelerator_hour < 0:
            raise ConfigError("failures_per_accelerator_hour must be >= 0")
        if self.checkpoint_save_s < 0 or self.restart_s < 0:
            raise ConfigError("checkpoint_save_s and restart_s must be >= 0")
        if self.checkpoint_interval_s is not None and self.checkpoint_interval_s <= 0:
            raise ConfigError("checkpoint_interval_s must be positive")

    @classmethod
    def from_mtbf_hours(cls, mtbf_hours: float, **kw: float | None) -> Reliability:
        """Per-accelerator MTBF in hours (e.g. a vendor's figure) instead of Llama 3's rate."""
        if mtbf_hours <= 0:
            raise ConfigError(f"mtbf_hours must be positive, got {mtbf_hours}")
        return cls(
            failures_per_accelerator_hour=1.0 / mtbf_hours,
            source=f"stated MTBF {mtbf_hours:g} h per accelerator",
            **{k: v for k, v in kw.items() if v is not None},
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Goodput:
    """Expected share of wall time spent on useful training, and its parts."""

    count: int
    job_mtbf_s: float
    checkpoint_interval_s: float
    checkpoint_waste: float
    failure_waste: float
    goodput: float

    def to_dict(self) -> dict[str, float]:
        return {
            "count": self.count,
            "job_mtbf_hours": self.job_mtbf_s / 3600,
            "checkpoint_interval_min": self.checkpoint_interval_s / 60,
            "checkpoint_waste": self.checkpoint_waste,
            "failure_waste": self.failure_waste,
            "goodput": self.goodput,
        }


def goodput(count: int, rel: Reliability | None = None) -> Goodput:
    """Goodput of a job on `count` accelerators (Young/Daly first order; see the module docstring).

    >>> round(goodput(16_384).goodput, 3)
    0.9
    >>> goodput(8).goodput > 0.99
    True
    """
    rel = rel or Reliability()
    if count <= 0:
        raise ConfigError(f"count must be positive, got {count}")
    rate_s = rel.failures_per_accelerator_hour * count / 3600.0  # job failures per second
    if rate_s <= 0:
        tau = rel.checkpoint_interval_s or math.inf
        ck = 0.0 if math.isinf(tau) else rel.checkpoint_save_s / tau
        return Goodput(
            count=count,
            job_mtbf_s=math.inf,
            checkpoint_interval_s=tau,
            checkpoint_waste=ck,
            failure_waste=0.0,
            goodput=max(0.01, 1 - ck),
        )
    mtbf = 1.0 / rate_s
    delta = rel.checkpoint_save_s
    tau = rel.checkpoint_interval_s or max(
        math.sqrt(2.0 * max(delta, 1e-9) * mtbf), 1.0
    )  # Young/Daly
    ck = delta / tau
    fail = (tau / 2.0 + rel.restart_s) / mtbf
    return Goodput(
        count=count,
        job_mtbf_s=mtbf,
        checkpoint_interval_s=tau,
        checkpoint_waste=ck,
        failure_waste=fail,
        goodput=max(0.01, 1.0 - ck - fail),
    )


def time_to_train_s(tokens: float, tokens_per_s: float, gp: float = 1.0) -> float:
    """Wall-clock seconds to train `tokens` at `tokens_per_s` (whole job) with goodput `gp`.

    >>> round(time_to_train_s(1e12, 1e6, 0.5) / 86400, 3)
    23.148
    """
    if tokens <= 0:
        raise ConfigError(f"tokens must be positive, got {tokens}")
    if tokens_per_s <= 0 or gp <= 0:
        return math.inf
    return tokens / (tokens_per_s * gp)

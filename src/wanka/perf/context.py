"""The arrays every term of the step model reads: one model, one chip, N candidate plans.

`step_context` resolves the rates (peak x software efficiency per kind of work), the scale-up domain and
the plans' degrees as float arrays (an invalid plan's degrees are replaced by 1 so that its terms stay
finite; `evaluate` turns its results into NaN). Each term of the step (`perf.layer`, `perf.stages`,
`perf.exposed`, `perf.memory`) is a function of this context and of the terms before it.

Glossary: T = b * s / cp tokens of one micro-batch on one GPU; spd = tp when sequence parallel (the
replicated, per-token work is split over TP ranks), else 1; m = G / (b * dp) micro-batches per step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wanka.hardware import Accelerator
from wanka.perf.comm import scaleup_domain_size
from wanka.perf.params import Calibration, OverlapPolicy
from wanka.perf.plans import PlanArrays
from wanka.workload.model import ModelSpec

__all__ = ["BF16_BYTES", "F64", "FP32_BYTES", "StepContext", "step_context"]

F64 = NDArray[np.float64]
BF16_BYTES = 2.0
FP32_BYTES = 4.0


@dataclass(frozen=True, slots=True, kw_only=True)
class StepContext:
    """Inputs of every step term: scalars of the run and float arrays of N plans."""

    model: ModelSpec
    acc: Accelerator
    cal: Calibration
    overlap: OverlapPolicy
    fabric: Any
    precision: str
    count: int
    G: float
    """Global batch (sequences)."""
    s: float
    """Sequence length."""
    h: float
    a: float
    V: float
    ng: float
    """fc1 output width multiplier (2 = gate + up, 1 = up)."""
    lowp: bool
    """Transformer-block GEMMs run below bf16 (fp8, mxfp8, nvfp4, ...)."""
    peak_prec: float
    block_rate: float
    """FLOP/s of the transformer-block GEMMs (peak of the precision, or bf16 x the calibrated speed-up)."""
    bf16_rate: float
    """FLOP/s of the GEMMs kept in bf16 (router, LM head)."""
    attn_rate: float
    """FLOP/s of flash attention (bf16)."""
    mem_rate: float
    """HBM bytes/s for memory-bound kernels."""
    D: int
    """Accelerators in one scale-up domain."""
    gpn: int
    """Accelerators per node (host); D > gpn is a multi-node NVLink domain (GB200/GB300 NVL72)."""
    valid: NDArray[np.bool_]
    one: F64
    tp: F64
    pp: F64
    vpp: F64
    cp: F64
    ep: F64
    etp: F64
    dp: F64
    b: F64
    sp: NDArray[np.bool_]
    spd: F64
    fsdp: NDArray[np.int64]
    rc: NDArray[np.int64]
    dist_opt: NDArray[np.bool_]
    m: F64
    T: F64
    act_bytes: F64
    """One [b, s/cp, h] bf16 activation (the full TP buffer)."""


def _rates(acc: Accelerator, precision: str, cal: Calibration) -> tuple[float, ...]:
    """(peak of the precision, block rate, bf16 rate, attention rate, memory rate)."""
    se = acc.software_efficiency
    peak_bf16 = acc.peak("bf16")
    peak_prec = acc.peak(precision)
    lowp = precision not in ("bf16", "fp16")
    speedup = (
        min(cal.lowp_gemm_speedup.get(precision, peak_prec / peak_bf16), peak_prec / peak_bf16)
        if lowp
        else 1.0
    )
    block_rate = (
        peak_prec if not lowp else peak_bf16 * speedup
    ) * se.gemm  # transformer-block GEMMs
    bf16_rate = peak_bf16 * se.gemm  # router, LM head: kept in bf16 (TE default)
    attn_rate = peak_bf16 * se.attention  # flash attention runs bf16 (fp8 DPA off by default)
    mem_rate = max(acc.hbm_bw_bytes_per_s, 1.0) * se.memory_bw
    return peak_prec, block_rate, bf16_rate, attn_rate, mem_rate


def step_context(
    model: ModelSpec,
    acc: Accelerator,
    plans: PlanArrays,
    valid: NDArray[np.bool_],
    *,
    count: int,
    gpus_per_node: int,
    global_batch_size: int,
    seq_len: int,
    precision: str,
    overlap: OverlapPolicy,
    fabric: Any,
    cal: Calibration,
) -> StepContext:
    """The context of `plans` (rows that are not `valid` get degree 1 everywhere)."""
    peak_prec, block_rate, bf16_rate, attn_rate, mem_rate = _rates(acc, precision, cal)
    one = np.ones(len(plans))
    f = np.float64
    raw = (
        plans.tp,
        plans.pp,
        plans.vpp,
        plans.cp,
        plans.ep,
        plans.etp,
        plans.dp,
        plans.micro_batch_size,
    )
    tp, pp, vpp, cp, ep, etp, dp, b = (np.where(valid, x.astype(f), one) for x in raw)
    sp = plans.sequence_parallel & (tp > 1)
    spd = np.where(sp, tp, 1.0)
    G, s, h = float(global_batch_size), float(seq_len), float(model.hidden)
    T = b * s / cp  # tokens of one micro-batch on one GPU
    return StepContext(
        model=model,
        acc=acc,
        cal=cal,
        overlap=overlap,
        fabric=fabric,
        precision=precision,
        count=count,
        G=G,
        s=s,
        h=h,
        a=float(model.heads),
        V=float(model.vocab),
        ng=2.0 if model.gated else 1.0,
        lowp=precision not in ("bf16", "fp16"),
        peak_prec=peak_prec,
        block_rate=block_rate,
        bf16_rate=bf16_rate,
        attn_rate=attn_rate,
        mem_rate=mem_rate,
        D=scaleup_domain_size(acc, gpus_per_node),
        gpn=gpus_per_node,
        valid=valid,
        one=one,
        tp=tp,
        pp=pp,
        vpp=vpp,
        cp=cp,
        ep=ep,
        etp=etp,
        dp=dp,
        b=b,
        sp=sp,
        spd=spd,
        fsdp=plans.fsdp,
        rc=plans.recompute,
        dist_opt=plans.distributed_optimizer | (plans.fsdp > 0),
        m=G / (b * dp),
        T=T,
        act_bytes=T * h * BF16_BYTES,
    )

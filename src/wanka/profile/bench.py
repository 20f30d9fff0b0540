"""Device-neutral micro-benchmarks behind `wanka profile`: GEMM, attention, memory bandwidth, collectives.

Two backends run the same sweep:

* ``numpy``: the host CPU through numpy's BLAS. Runs everywhere (and in the tests). The CPU's peak is
  not known, so the peaks are *measured*: the best GEMM rate on the largest shape of each dtype and the
  best streaming bandwidth. Fractions are then ratios to those (the largest GEMM is 1.0 by construction).
* ``torch``: whatever accelerator PyTorch sees (`torch.accelerator.current_accelerator()`, else cuda,
  npu, xpu, mlu, musa, hpu, mps, cpu); torch is imported lazily. Timing uses the device's
  ``synchronize()`` around a loop of launches (no CUDA events, so it works on every vendor's plugin).
  Collectives run when the process is part of an initialised `torch.distributed` group of 2+ ranks
  (launch with ``torchrun --nproc-per-node N -m wanka.cli.main profile --backend torch``).

With ``accelerator_id`` the fractions are computed against that catalog chip's peaks instead.

FLOP counts: GEMM (m x k) @ (k x n) = 2mnk. Attention forward = 4 * batch * heads * seq^2 * head_dim
(QK^T and PV, causal counted in full as Megatron does). Memory: copy moves 2 x bytes (read + write).
All-reduce bus bandwidth = 2 (n - 1) / n * bytes / time (nccl-tests convention).
"""

from __future__ import annotations

import datetime as _dt
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wanka.errors import ConfigError
from wanka.profile.schema import Kernel, PeakReference, Profile, ProfileEfficiency

__all__ = ["Sweep", "best_time_s", "default_sweep", "quick_sweep", "run_profile"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Sweep:
    """What to measure."""

    gemm_shapes: tuple[tuple[int, int, int], ...]
    """(m, n, k); the last one is the "largest, well-shaped" GEMM the summary uses."""
    gemm_dtypes: tuple[str, ...]
    attention_shapes: tuple[tuple[int, int, int, int], ...]
    """(batch, heads, seq_len, head_dim)."""
    memory_bytes: tuple[int, ...]
    collective_bytes: tuple[int, ...]
    repeats: int
    warmup: int = 1


def default_sweep(backend: str) -> Sweep:
    """The default sweep: small enough for ~20 s on a 2-core CPU with numpy."""
    if backend == "numpy":
        return Sweep(
            gemm_shapes=(
                (256, 256, 256),
                (512, 512, 512),
                (2048, 512, 512),
                (512, 2048, 128),
                (64, 2048, 2048),
                (1024, 1024, 1024),
                (2048, 2048, 2048),
            ),
            gemm_dtypes=("float32", "float64"),
            attention_shapes=((1, 8, 256, 64), (1, 8, 1024, 64), (1, 4, 1024, 128)),
            memory_bytes=(1 << 20, 16 << 20, 64 << 20),
            collective_bytes=(),
            repeats=3,
        )
    return Sweep(
        gemm_shapes=(
            (1024, 1024, 1024),
            (4096, 1024, 4096),
            (16384, 1024, 1024),
            (1024, 16384, 1024),
            (128, 8192, 8192),
            (8192, 8192, 1024),
            (4096, 4096, 4096),
            (8192, 8192, 8192),
        ),
        gemm_dtypes=("bfloat16", "float16", "float32"),
        attention_shapes=((4, 32, 2048, 128), (1, 32, 8192, 128), (8, 16, 1024, 64)),
        memory_bytes=(16 << 20, 256 << 20, 1 << 30),
        collective_bytes=(1 << 20, 16 << 20, 256 << 20),
        repeats=10,
        warmup=3,
    )


def quick_sweep(backend: str) -> Sweep:
    """A tiny sweep for tests and smoke checks (about a second with numpy)."""
    if backend == "numpy":
        return Sweep(
            gemm_shapes=((64, 64, 64), (128, 256, 64), (256, 256, 256)),
            gemm_dtypes=("float32",),
            attention_shapes=((1, 2, 128, 32),),
            memory_bytes=(1 << 20, 4 << 20),
            collective_bytes=(),
            repeats=2,
        )
    return Sweep(
        gemm_shapes=((1024, 1024, 1024), (4096, 4096, 4096)),
        gemm_dtypes=("bfloat16",),
        attention_shapes=((1, 16, 2048, 128),),
        memory_bytes=(256 << 20,),
        collective_bytes=(16 << 20,),
        repeats=5,
        warmup=2,
    )


def best_time_s(
    fn: Callable[[], Any],
    *,
    repeats: int,
    warmup: int,
    sync: Callable[[], None] = lambda: None,
    min_time_s: float = 0.02,
) -> float:
    """Best wall time of one call of `fn`, synchronising the device around each timed loop.

    Each repeat runs enough back-to-back calls to last `min_time_s` (launch overhead amortised).
    """
    for _ in range(warmup):
        fn()
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    once = max(time.perf_counter() - t0, 1e-7)
    inner = max(1, min(1000, int(min_time_s / once)))
    best = float("inf")
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        sync()
        best = min(best, (time.perf_counter() - t0) / inner)
    return best


# --- backends -------------------------------------------------------------------------------------------
class _Numpy:
    name = "numpy"

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)
        self.device = f"cpu ({platform.processor() or platform.machine()}, numpy {np.__version__})"

    def sync(self) -> None:
        pass

    def gemm(self, m: int, n: int, k: int, dtype: str) -> Callable[[], Any]:
        a = self.rng.standard_normal((m, k)).astype(dtype)
        b = self.rng.standard_normal((k, n)).astype(dtype)
        c = np.empty((m, n), dtype=dtype)
        return lambda: np.matmul(a, b, out=c)

    def attention(
        self, b: int, h: int, s: int, d: int, dtype: str, causal: bool
    ) -> Callable[[], Any]:
        q, k, v = (self.rng.standard_normal((b, h, s, d)).astype(dtype) for _ in range(3))
        scale = np.asarray(1.0 / np.sqrt(d), dtype=dtype)
        mask = np.triu(np.full((s, s), -np.inf, dtype=dtype), 1) if causal else None

        def run() -> Any:
            scores = np.matmul(q, k.transpose(0, 1, 3, 2)) * scale
            if mask is not None:
                scores += mask
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            return np.matmul(scores, v)

        return run

    def copy(self, nbytes: int) -> Callable[[], Any]:
        src = np.ones(nbytes // 4, dtype=np.float32)
        dst = np.empty_like(src)
        return lambda: np.copyto(dst, src)


class _Torch:
    name = "torch"

    def __init__(self) -> None:
        try:
            import torch
        except ImportError:
            raise ConfigError(
                "the torch backend needs PyTorch, which is not installed (the `torch` extra "
                "of wanka); use --backend numpy"
            ) from None
        self.torch = torch
        self.dev_type = self._pick_device()
        self.device = torch.device(self.dev_type)
        self.module: Any = (
            torch.get_device_module(self.dev_type)
            if hasattr(torch, "get_device_module")
            else getattr(torch, self.dev_type, None)
        )
        name = self.dev_type
        try:
            module: Any = self.module
            if hasattr(module, "get_device_name"):
                name = f"{self.dev_type} ({module.get_device_name()})"
        except Exception:  # noqa: BLE001 - a plugin without the query
            pass
        self.device_name = f"{name}, torch {torch.__version__}"

    def _pick_device(self) -> str:
        torch = self.torch
        acc = getattr(torch, "accelerator", None)
        if acc is not None and acc.is_available():
            return acc.current_accelerator().type
        for name in ("cuda", "npu", "xpu", "mlu", "musa", "hpu", "mps"):
            mod = getattr(torch, name, None)
            try:
                if mod is not None and mod.is_available():
                    return name
            except Exception:  # noqa: BLE001 - a half-installed plugin
                continue
        return "cpu"

    def sync(self) -> None:
        acc = getattr(self.torch, "accelerator", None)
        if self.dev_type == "cpu":
            return
        if acc is not None and acc.is_available():
            acc.synchronize()
        elif self.module is not None and hasattr(self.module, "synchronize"):
            self.module.synchronize()

    def _dtype(self, dtype: str) -> Any:
        return getattr(self.torch, dtype)

    def gemm(self, m: int, n: int, k: int, dtype: str) -> Callable[[], Any]:
        t = self.torch
        a = t.randn(m, k, device=self.device, dtype=self._dtype(dtype))
        b = t.randn(k, n, device=self.device, dtype=self._dtype(dtype))
        c = t.empty(m, n, device=self.device, dtype=self._dtype(dtype))
        return lambda: t.matmul(a, b, out=c)

    def attention(
        self, b: int, h: int, s: int, d: int, dtype: str, causal: bool
    ) -> Callable[[], Any]:
        t = self.torch
        q, k, v = (
            t.randn(b, h, s, d, device=self.device, dtype=self._dtype(dtype)) for _ in range(3)
        )
        sdpa = t.nn.functional.scaled_dot_product_attention
        return lambda: sdpa(q, k, v, is_causal=causal)

    def copy(self, nbytes: int) -> Callable[[], Any]:
        t = self.torch
        src = t.ones(nbytes // 4, device=self.device, dtype=t.float32)
        dst = t.empty_like(src)
        return lambda: dst.copy_(src)

    def world(self) -> tuple[int, Any]:
        dist = getattr(self.torch, "distributed", None)
        if dist is None or not dist.is_available() or not dist.is_initialized():
            return 1, None
        return dist.get_world_size(), dist

    def all_reduce(self, nbytes: int) -> Callable[[], Any]:
        _, dist = self.world()
        x = self.torch.ones(nbytes // 2, device=self.device, dtype=self.torch.bfloat16)
        return lambda: dist.all_reduce(x)


# --- the sweep --------------------------------------------------------------------------------------------------
def run_profile(
    *,
    backend: str = "numpy",
    accelerator_id: str | None = None,
    quick: bool = False,
    sweep: Sweep | None = None,
    progress: Callable[[str], None] | None = None,
) -> Profile:
    """Run the micro-benchmarks and return the profile (nothing is written)."""
    if backend not in ("numpy", "torch"):
        raise ConfigError(f"unknown backend {backend!r}; choose numpy or torch")
    acc = None
    if accelerator_id is not None:
        from wanka.catalogs import get_accelerator  # catalog only when asked for its peaks

        acc = get_accelerator(accelerator_id)
    be: Any = _Numpy() if backend == "numpy" else _Torch()
    sw = sweep or (quick_sweep(backend) if quick else default_sweep(backend))
    say = progress or (lambda _msg: None)
    notes: list[str] = []

    # Start the BLAS / device thread pools before anything is timed.
    m0, n0, k0 = sw.gemm_shapes[len(sw.gemm_shapes) // 2]
    best_time_s(
        be.gemm(m0, n0, k0, sw.gemm_dtypes[0]), repeats=1, warmup=2, sync=be.sync, min_time_s=0.05
    )
    raw = _measure(be, sw, say)
    if backend == "torch":
        raw.coll = _measure_collectives(be, sw, say, notes)
    else:
        notes.append("collectives not measured: the numpy backend sees one host")
    peak = _peak_reference(acc, sw, raw)
    kernels, coll_fracs = _kernels(raw, peak, sw.gemm_dtypes[0])
    if raw.coll and not peak.collective_bw_bytes_per_s:
        notes.append(
            "collective fractions are placeholders (no link peak known): pass --accelerator ID"
        )
    summary_dtype = sw.gemm_dtypes[0]
    largest = sw.gemm_shapes[-1]
    gemm_sum = next(
        k.fraction_of_peak
        for k in kernels
        if k.kernel_class == "gemm"
        and k.dtype == summary_dtype
        and (k.params["m"], k.params["n"], k.params["k"]) == largest
    )
    att_sum = max(k.fraction_of_peak for k in kernels if k.kernel_class == "attention")
    mem_sum = max(k.fraction_of_peak for k in kernels if k.kernel_class == "memory")
    eff = ProfileEfficiency(
        gemm=gemm_sum,
        attention=att_sum,
        memory_bw=mem_sum,
        collective=max(coll_fracs) if coll_fracs else None,
    )
    notes.append(
        f"software_efficiency: gemm = {summary_dtype} GEMM on the largest shape; attention = best "
        "attention shape; memory_bw = best copy; collective = best all-reduce bus bandwidth"
    )
    return Profile(
        accelerator=acc.id if acc is not None else None,
        device=be.device if backend == "numpy" else be.device_name,
        backend=backend,
        measured_at=_dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
        peak_reference=peak,
        software_efficiency=eff,
        kernels=tuple(kernels),
        notes=tuple(notes),
    )


@dataclass
class _Raw:
    """Best times (s) of every benchmark of a sweep, with its parameters."""

    gemm: list[tuple[int, int, int, str, float]] = field(default_factory=list)
    att: list[tuple[int, int, int, int, bool, float]] = field(default_factory=list)
    mem: list[tuple[int, float]] = field(default_factory=list)
    coll: list[tuple[int, int, float]] = field(default_factory=list)

    def gemm_rate(self) -> dict[tuple[int, int, int, str], float]:
        return {(m, n, k, dt): 2.0 * m * n * k / t for (m, n, k, dt, t) in self.gemm}

    def mem_rate(self) -> dict[int, float]:
        return {nb: 2.0 * nb / t for nb, t in self.mem}


def _measure(be: Any, sw: Sweep, say: Callable[[str], None]) -> _Raw:
    """Time the GEMMs, attention shapes (first GEMM dtype) and copies of the sweep."""
    raw = _Raw()
    timed = {"repeats": sw.repeats, "warmup": sw.warmup, "sync": be.sync}
    for dtype in sw.gemm_dtypes:
        for m, n, k in sw.gemm_shapes:
            say(f"gemm {m}x{n}x{k} {dtype}")
            raw.gemm.append((m, n, k, dtype, best_time_s(be.gemm(m, n, k, dtype), **timed)))
    att_dtype = sw.gemm_dtypes[0]
    for b, h, s, d in sw.attention_shapes:
        for causal in (False, True):
            say(f"attention b{b} h{h} s{s} d{d} causal={causal}")
            t = best_time_s(be.attention(b, h, s, d, att_dtype, causal), **timed)
            raw.att.append((b, h, s, d, causal, t))
    for nbytes in sw.memory_bytes:
        say(f"copy {nbytes} bytes")
        raw.mem.append((nbytes, best_time_s(be.copy(nbytes), **timed)))
    return raw


def _measure_collectives(
    be: Any, sw: Sweep, say: Callable[[str], None], notes: list[str]
) -> list[tuple[int, int, float]]:
    """All-reduce times over the torch.distributed world (none, noted, on one rank)."""
    ranks, _ = be.world()
    if ranks <= 1:
        notes.append("collectives not measured: run under torchrun with 2+ ranks to measure them")
        return []
    out = []
    for nbytes in sw.collective_bytes:
        say(f"all_reduce {nbytes} bytes over {ranks} ranks")
        t = best_time_s(be.all_reduce(nbytes), repeats=sw.repeats, warmup=sw.warmup, sync=be.sync)
        out.append((nbytes, ranks, t))
    return out


_CATALOG_DTYPE = {"bfloat16": "bf16", "float16": "fp16", "float32": "tf32", "float64": "fp32"}


def _peak_reference(acc: Any, sw: Sweep, raw: _Raw) -> PeakReference:
    """The catalog chip's peaks, or measured ones (best GEMM rate on the largest shape, best copy
    bandwidth)."""
    if acc is not None:
        matrix = {}
        for dt in sw.gemm_dtypes:
            key = _CATALOG_DTYPE.get(dt, dt)
            value = (
                acc.peak_flops.get(key)
                or acc.peak_flops.get("fp32")
                or max(acc.peak_flops.values())
            )
            matrix[dt] = value
        return PeakReference(
            source=f"catalog:{acc.id}",
            matrix_flops_per_s=matrix,
            memory_bw_bytes_per_s=acc.hbm_bw_bytes_per_s,
            collective_bw_bytes_per_s=acc.scaleup_bw_bytes_per_s
            or acc.scaleout_bw_bytes_per_s
            or None,
            note=f"fractions of the catalog peaks of {acc.name} (dense matrix peak per dtype; "
            "float32 GEMMs against the TF32 peak)",
        )
    largest = sw.gemm_shapes[-1]
    gemm_rate = raw.gemm_rate()
    return PeakReference(
        source="measured",
        matrix_flops_per_s={dt: gemm_rate[(*largest, dt)] for dt in sw.gemm_dtypes},
        memory_bw_bytes_per_s=max(raw.mem_rate().values()),
        note="peak unknown for this device: the matrix peak is the best achieved GEMM rate "
        f"on the largest shape ({largest[0]}x{largest[1]}x{largest[2]}) per dtype, and "
        "the memory peak the best achieved copy bandwidth; fractions are ratios to "
        "those. Pass --accelerator ID to use a catalog chip's peaks",
    )


def _frac(x: float) -> float:
    return float(min(max(x, 1e-9), 1.5))


def _kernels(raw: _Raw, peak: PeakReference, att_dtype: str) -> tuple[list[Kernel], list[float]]:
    """One Kernel per measurement, as a fraction of `peak`; and the collective fractions known."""
    gemm_rate, mem_rate = raw.gemm_rate(), raw.mem_rate()
    kernels: list[Kernel] = []
    for m, n, k, dt, t in raw.gemm:
        rate = gemm_rate[(m, n, k, dt)]
        kernels.append(
            Kernel(
                kernel_class="gemm",
                dtype=dt,
                seconds=t,
                params={"m": m, "n": n, "k": k},
                achieved_flops_per_s=rate,
                fraction_of_peak=_frac(rate / peak.matrix_flops_per_s[dt]),
            )
        )
    for b, h, s, d, causal, t in raw.att:
        rate = 4.0 * b * h * s * s * d / t
        kernels.append(
            Kernel(
                kernel_class="attention",
                dtype=att_dtype,
                seconds=t,
                params={"batch": b, "heads": h, "seq_len": s, "head_dim": d, "causal": causal},
                achieved_flops_per_s=rate,
                fraction_of_peak=_frac(rate / peak.matrix_flops_per_s[att_dtype]),
            )
        )
    for nb, t in raw.mem:
        kernels.append(
            Kernel(
                kernel_class="memory",
                dtype="float32",
                seconds=t,
                params={"op": "copy", "bytes": nb},
                bytes_per_s=mem_rate[nb],
                fraction_of_peak=_frac(mem_rate[nb] / peak.memory_bw_bytes_per_s),
            )
        )
    coll_fracs = []
    for nb, n, t in raw.coll:
        busbw = 2.0 * (n - 1) / n * nb / t
        link = peak.collective_bw_bytes_per_s
        f = _frac(busbw / link) if link else None
        if f is not None:
            coll_fracs.append(f)
        kernels.append(
            Kernel(
                kernel_class="collective",
                dtype="bfloat16",
                seconds=t,
                params={"op": "all_reduce", "bytes": nb, "ranks": n},
                bytes_per_s=busbw,
                fraction_of_peak=f if f is not None else 1.0,
            )
        )
    return kernels, coll_fracs

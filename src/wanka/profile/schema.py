"""The chip profile file (`wanka-profile/1`): what `wanka profile` writes and `--profile FILE` reads.

A profile records what a chip's software stack really delivers: for each kernel class (GEMM,
attention, memory-bound streaming, collectives) and shape, the measured time, the achieved rate and the
fraction of a stated peak. Its `software_efficiency` summary replaces the catalog's
`Accelerator.software_efficiency` for that chip (`apply_profile`). The schema is documented in
docs/profile.md; unknown keys are rejected and every fraction must lie in (0, 1.5].
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from wanka.errors import ConfigError
from wanka.hardware import Accelerator, SoftwareEfficiency
from wanka.spec import check_mapping
from wanka.userfile import read_data

__all__ = [
    "KERNEL_CLASSES",
    "SCHEMA",
    "Kernel",
    "PeakReference",
    "Profile",
    "ProfileEfficiency",
    "apply_profile",
    "calibrated_profile",
    "dump_profile",
    "load_profile",
    "parse_profile",
]

SCHEMA = "wanka-profile/1"
BACKENDS = ("numpy", "torch", "calibrate")
"""numpy/torch: micro-benchmarks (`wanka profile`); calibrate: fitted to measured runs (`wanka calibrate`)."""
KERNEL_CLASSES = ("gemm", "attention", "memory", "collective")
MAX_FRACTION = (
    1.5  # above peak only through a wrong peak reference or sparsity: rejected beyond this
)

_TOP_KEYS = {
    "schema",
    "accelerator",
    "device",
    "backend",
    "measured_at",
    "peak_reference",
    "software_efficiency",
    "kernels",
    "notes",
}
_PEAK_KEYS = {
    "source",
    "matrix_flops_per_s",
    "memory_bw_bytes_per_s",
    "collective_bw_bytes_per_s",
    "note",
}
_SE_KEYS = {"gemm", "attention", "memory_bw", "collective"}
_COMMON = {"class", "dtype", "seconds", "fraction_of_peak"}
_KERNEL_KEYS = {
    "gemm": _COMMON | {"m", "n", "k", "achieved_flops_per_s"},
    "attention": _COMMON
    | {"batch", "heads", "seq_len", "head_dim", "causal", "achieved_flops_per_s"},
    "memory": _COMMON | {"op", "bytes", "bytes_per_s"},
    "collective": _COMMON | {"op", "bytes", "ranks", "bytes_per_s"},
}
_INT_PARAMS = ("m", "n", "k", "batch", "heads", "seq_len", "head_dim", "bytes", "ranks")


_check_keys = check_mapping


def _fraction(where: str, v: Any) -> float:
    if (
        isinstance(v, bool)
        or not isinstance(v, (int, float))
        or not math.isfinite(v)
        or not (0.0 < v <= MAX_FRACTION)
    ):
        raise ConfigError(f"{where} must be a number in (0, {MAX_FRACTION}], got {v!r}")
    return float(v)


def _positive(where: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        raise ConfigError(f"{where} must be a positive number, got {v!r}")
    return float(v)


@dataclass(frozen=True, slots=True, kw_only=True)
class PeakReference:
    """The peaks the fractions are relative to, and where they come from."""

    source: str
    """"measured" (best GEMM rate on the largest shape, best streaming bandwidth) or "catalog:<id>"."""
    matrix_flops_per_s: dict[str, float]
    """Peak matrix FLOP/s per dtype."""
    memory_bw_bytes_per_s: float
    collective_bw_bytes_per_s: float | None = None
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Kernel:
    """One measured kernel: its class and shape, the best time, the achieved rate and fraction of peak."""

    kernel_class: str
    dtype: str
    seconds: float
    fraction_of_peak: float
    params: dict[str, Any] = field(default_factory=dict)
    """Shape: m/n/k (gemm); batch/heads/seq_len/head_dim/causal (attention); op/bytes (memory); op/bytes/ranks."""
    achieved_flops_per_s: float | None = None
    bytes_per_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "class": self.kernel_class,
            **self.params,
            "dtype": self.dtype,
            "seconds": self.seconds,
        }
        if self.achieved_flops_per_s is not None:
            d["achieved_flops_per_s"] = self.achieved_flops_per_s
        if self.bytes_per_s is not None:
            d["bytes_per_s"] = self.bytes_per_s
        d["fraction_of_peak"] = self.fraction_of_peak
        return d


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileEfficiency:
    """The summary fractions that replace the catalog's `software_efficiency`."""

    gemm: float
    attention: float
    memory_bw: float
    collective: float | None = None
    """None when no collective was measured (one device): the catalog's value is kept."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """A measured chip profile."""

    accelerator: str | None
    """Catalog id of the measured chip, or None (e.g. a CPU measured with the numpy backend)."""
    device: str
    backend: str
    measured_at: str
    peak_reference: PeakReference
    software_efficiency: ProfileEfficiency
    kernels: tuple[Kernel, ...]
    notes: tuple[str, ...] = ()
    schema: str = SCHEMA

    def to_dict(self) -> dict[str, Any]:
        pr = self.peak_reference
        se = self.software_efficiency
        peak: dict[str, Any] = {
            "source": pr.source,
            "matrix_flops_per_s": dict(pr.matrix_flops_per_s),
            "memory_bw_bytes_per_s": pr.memory_bw_bytes_per_s,
        }
        if pr.collective_bw_bytes_per_s is not None:
            peak["collective_bw_bytes_per_s"] = pr.collective_bw_bytes_per_s
        if pr.note:
            peak["note"] = pr.note
        eff: dict[str, Any] = {
            "gemm": se.gemm,
            "attention": se.attention,
            "memory_bw": se.memory_bw,
        }
        if se.collective is not None:
            eff["collective"] = se.collective
        d: dict[str, Any] = {
            "schema": self.schema,
            "accelerator": self.accelerator,
            "device": self.device,
            "backend": self.backend,
            "measured_at": self.measured_at,
            "peak_reference": peak,
            "software_efficiency": eff,
            "kernels": [k.to_dict() for k in self.kernels],
        }
        if self.notes:
            d["notes"] = list(self.notes)
        return d


def _kernel(where: str, d: Any) -> Kernel:
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(d).__name__}")
    cls = d.get("class")
    if cls not in _KERNEL_KEYS:
        raise ConfigError(f"{where}: class must be one of {', '.join(KERNEL_CLASSES)}, got {cls!r}")
    rate_key = "achieved_flops_per_s" if cls in ("gemm", "attention") else "bytes_per_s"
    _check_keys(
        where, d, _KERNEL_KEYS[cls], {"class", "dtype", "seconds", "fraction_of_peak", rate_key}
    )
    params: dict[str, Any] = {}
    for k, v in d.items():
        if k in _INT_PARAMS:
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ConfigError(f"{where}.{k} must be a positive integer, got {v!r}")
            params[k] = v
        elif k in ("op",):
            params[k] = str(v)
        elif k == "causal":
            if not isinstance(v, bool):
                raise ConfigError(f"{where}.causal must be true or false, got {v!r}")
            params[k] = v
    return Kernel(
        kernel_class=cls,
        dtype=str(d["dtype"]),
        seconds=_positive(f"{where}.seconds", d["seconds"]),
        fraction_of_peak=_fraction(f"{where}.fraction_of_peak", d["fraction_of_peak"]),
        params=params,
        achieved_flops_per_s=_positive(f"{where}.{rate_key}", d[rate_key])
        if rate_key.startswith("ach")
        else None,
        bytes_per_s=_positive(f"{where}.bytes_per_s", d[rate_key])
        if rate_key == "bytes_per_s"
        else None,
    )


def parse_profile(d: Any, *, where: str = "profile") -> Profile:
    """Validate a profile mapping (as read from YAML) into a `Profile`."""
    _check_keys(where, d, _TOP_KEYS, _TOP_KEYS - {"notes"})
    if d["schema"] != SCHEMA:
        raise ConfigError(f"{where}: schema must be {SCHEMA!r}, got {d['schema']!r}")
    if d["backend"] not in BACKENDS:
        raise ConfigError(
            f"{where}: backend must be one of {', '.join(BACKENDS)}, got {d['backend']!r}"
        )
    acc = d["accelerator"]
    if acc is not None and not isinstance(acc, str):
        raise ConfigError(f"{where}: accelerator must be a catalog id or null, got {acc!r}")
    measured = d["measured_at"]
    if isinstance(measured, (_dt.date, _dt.datetime)):
        measured = measured.isoformat()
    try:
        _dt.datetime.fromisoformat(str(measured))
    except ValueError:
        raise ConfigError(f"{where}: measured_at must be an ISO date, got {measured!r}") from None
    pr = _check_keys(
        f"{where}.peak_reference",
        d["peak_reference"],
        _PEAK_KEYS,
        {"source", "matrix_flops_per_s", "memory_bw_bytes_per_s"},
    )
    mf = pr["matrix_flops_per_s"]
    if not isinstance(mf, dict) or not mf:
        raise ConfigError(f"{where}.peak_reference.matrix_flops_per_s must map dtype -> FLOP/s")
    peak = PeakReference(
        source=str(pr["source"]),
        matrix_flops_per_s={
            str(k): _positive(f"{where}.peak_reference.matrix_flops_per_s.{k}", v)
            for k, v in mf.items()
        },
        memory_bw_bytes_per_s=_positive(
            f"{where}.peak_reference.memory_bw_bytes_per_s", pr["memory_bw_bytes_per_s"]
        ),
        collective_bw_bytes_per_s=None
        if pr.get("collective_bw_bytes_per_s") is None
        else _positive(
            f"{where}.peak_reference.collective_bw_bytes_per_s", pr["collective_bw_bytes_per_s"]
        ),
        note=str(pr.get("note") or ""),
    )
    se = _check_keys(
        f"{where}.software_efficiency",
        d["software_efficiency"],
        _SE_KEYS,
        {"gemm", "attention", "memory_bw"},
    )
    eff = ProfileEfficiency(
        gemm=_fraction(f"{where}.software_efficiency.gemm", se["gemm"]),
        attention=_fraction(f"{where}.software_efficiency.attention", se["attention"]),
        memory_bw=_fraction(f"{where}.software_efficiency.memory_bw", se["memory_bw"]),
        collective=None
        if se.get("collective") is None
        else _fraction(f"{where}.software_efficiency.collective", se["collective"]),
    )
    kernels = d["kernels"]
    if not isinstance(kernels, list):
        raise ConfigError(f"{where}.kernels must be a list")
    notes = d.get("notes") or []
    if not isinstance(notes, list):
        raise ConfigError(f"{where}.notes must be a list of strings")
    return Profile(
        accelerator=acc,
        device=str(d["device"]),
        backend=d["backend"],
        measured_at=str(measured),
        peak_reference=peak,
        software_efficiency=eff,
        kernels=tuple(_kernel(f"{where}.kernels[{i}]", k) for i, k in enumerate(kernels)),
        notes=tuple(str(n) for n in notes),
    )


def load_profile(path: str | Path) -> Profile:
    """Read and validate a profile YAML (or JSON) file."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(
            f"profile file not found: {p}; run `wanka profile --out FILE` to make one"
        )
    data = read_data(p, what="a wanka profile YAML")
    return parse_profile(data, where=str(p))


def dump_profile(profile: Profile, path: str | Path | None = None) -> str:
    """The profile as YAML text; written to `path` (atomically) when given."""
    text = "# wanka chip profile; schema: docs/profile.md\n" + yaml.safe_dump(
        profile.to_dict(), sort_keys=False
    )
    if path is not None:
        p = Path(path)
        tmp = p.with_name(f".{p.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(p)
    return text


def apply_profile(accelerator: Accelerator, profile: Profile) -> Accelerator:
    """The accelerator with its `software_efficiency` replaced by the profile's measured fractions.

    A profile that names a different catalog chip is refused; a profile without a chip id (a CPU
    measured with numpy) is applied as the user asks, and its source says so. The collective fraction
    is kept from the catalog when the profile measured none.
    """
    if profile.accelerator is not None and profile.accelerator != accelerator.id:
        raise ConfigError(
            f"the profile was measured on {profile.accelerator!r}, not {accelerator.id!r}; "
            "profile that chip or pick a profile without an accelerator id"
        )
    se = profile.software_efficiency
    old = accelerator.software_efficiency
    source = (
        f"wanka profile of {profile.device} ({profile.backend} backend, {profile.measured_at}, "
        f"peaks: {profile.peak_reference.source})"
    )
    new = SoftwareEfficiency(
        gemm=se.gemm,
        attention=se.attention,
        memory_bw=se.memory_bw,
        collective=se.collective if se.collective is not None else old.collective,
        source=source,
    )
    return dataclasses.replace(accelerator, software_efficiency=new)


def calibrated_profile(accelerator: Accelerator, fit: dict[str, Any], *, data: str) -> Profile:
    """A `wanka-profile/1` holding the fractions `wanka calibrate` fitted (`perf.calibrate`), with the
    data, the errors and each parameter's leave-one-out spread in `notes` (no kernels: nothing was timed)."""
    par = fit["parameters"]
    notes = [
        (
            f"fitted by wanka calibrate on {fit['runs']} measured runs of {data} "
            f"({fit['objective']}; bounded, projected Levenberg-Marquardt)"
        ),
    ]
    for k in ("in_sample", "leave_one_out"):
        b, a = fit[k]["before"], fit[k]["after"]
        notes.append(
            f"{k.replace('_', '-')} |error| median/p90: catalog {b['median_abs']:.1%}/{b['p90_abs']:.1%}"
            f" -> fitted {a['median_abs']:.1%}/{a['p90_abs']:.1%}"
        )
    for name, p in par.items():
        notes.append(
            f"{name}: {p['fitted']:.4g} (catalog {p['catalog']:.4g}; "
            + (
                f"leave-one-out {p['loo_min']:.4g}..{p['loo_max']:.4g}, sd {p['loo_std']:.2g})"
                if p["free"]
                else "not exercised by these runs: kept)"
            )
        )
    peak = PeakReference(
        source=f"catalog:{accelerator.id}",
        matrix_flops_per_s={k: float(v) for k, v in accelerator.peak_flops.items() if v},
        memory_bw_bytes_per_s=float(accelerator.hbm_bw_bytes_per_s),
        collective_bw_bytes_per_s=float(accelerator.scaleup_bw_bytes_per_s) or None,
    )
    eff = ProfileEfficiency(
        gemm=par["gemm"]["fitted"],
        attention=par["attention"]["fitted"],
        memory_bw=par["memory_bw"]["fitted"],
        collective=par["collective"]["fitted"],
    )
    return Profile(
        accelerator=accelerator.id,
        device=accelerator.name,
        backend="calibrate",
        measured_at=_dt.date.today().isoformat(),
        peak_reference=peak,
        software_efficiency=eff,
        kernels=(),
        notes=tuple(notes),
    )

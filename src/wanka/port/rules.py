"""The porting rules: what each CUDA-specific construct becomes on every target, and how bad it is.

Glossary. A *target* is where the code should run: `npu` (Huawei Ascend, torch_npu), `rocm` (AMD/Hygon,
HIP builds that keep the "cuda" device type), `xpu` (Intel GPU), `mlu` (Cambricon, torch_mlu), `musa`
(Moore Threads, torch_musa), `hpu` (Intel Gaudi, habana_frameworks) and `cpu`. A *site* is one place in
the code that a rule matched. A severity says what happens to that site on a target without changes:

    breaks    the code fails, or silently never uses the accelerator
    degrades  it runs, but loses a fast path, a setting or a diagnostic
    info      it runs as it is; worth knowing when porting

The per-target mappings follow shared/research/porting.md (section 8's table) and the vendors' own
migration tables (Ascend transfer_to_npu / msFmkTransplt, Habana GPU Migration Toolkit, torch_gpu2mlu,
torchada, ROCm's HIP notes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from wanka.errors import ConfigError

__all__ = [
    "PACKAGES",
    "RULES",
    "SEVERITY_ORDER",
    "TARGETS",
    "TARGET_INFO",
    "PackageRule",
    "Rule",
    "Severity",
    "TargetInfo",
    "check_target",
    "worst",
]


class Severity(StrEnum):
    """How a site behaves on a target when nothing is changed."""

    BREAKS = "breaks"
    DEGRADES = "degrades"
    INFO = "info"


SEVERITY_ORDER: dict[str, int] = {"info": 0, "degrades": 1, "breaks": 2}


def worst(severities: list[str] | tuple[str, ...]) -> str:
    """The most severe of several severities ("info" for none)."""
    return max(severities, key=SEVERITY_ORDER.__getitem__, default="info")


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetInfo:
    """What a target calls things: device type, module, collective backend, runtime plugin."""

    name: str
    label: str
    device_type: str
    """The `torch.device` type string on this target ("cuda" on ROCm: HIP masquerades as CUDA)."""
    module: str
    """The per-device module mirroring torch.cuda (`torch.npu`, ...)."""
    backend: str
    """torch.distributed backend for this device."""
    plugin: str | None
    """Python module that registers the device with PyTorch, or None when PyTorch has it built in."""
    visible_devices_env: str
    smi: str


#: The one table of targets, rules and packages (see its header for the `all` + override form).
TABLE_FILE = Path(__file__).with_name("data") / "rules.yaml"


def _load_table() -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: about 10x faster
    with TABLE_FILE.open(encoding="utf-8") as f:
        table: dict[str, Any] = yaml.load(f, Loader=loader)
    return table


_TABLE = _load_table()

TARGET_INFO: dict[str, TargetInfo] = {t["name"]: TargetInfo(**t) for t in _TABLE["targets"]}

#: Every target, in report order.
TARGETS: tuple[str, ...] = tuple(TARGET_INFO)


def check_target(name: str) -> str:
    """Return `name` if it is a known target, else raise ConfigError naming the choices."""
    if name not in TARGET_INFO:
        raise ConfigError(f"unknown target {name!r}; choose from {', '.join(TARGETS)}")
    return name


def _all(per_target: dict[str, str]) -> dict[str, str]:
    """Severity per target: the target's own entry, else `all`."""
    return {t: per_target.get(t, per_target["all"]) for t in TARGETS}


def _per(per_target: dict[str, str]) -> dict[str, str]:
    """Per-target text: the target's own entry, else the `all` template with {dev}, {mod},
    {backend}, {smi}, {env} filled in."""
    out = {}
    for t, info in TARGET_INFO.items():
        out[t] = per_target.get(t) or per_target["all"].format(
            dev=info.device_type,
            mod=info.module,
            backend=info.backend,
            smi=info.smi,
            env=info.visible_devices_env,
        )
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One kind of CUDA-specific construct."""

    id: str
    title: str
    severity: dict[str, str]
    """Severity per target when the site is not inside a device-type guard."""
    becomes: dict[str, str]
    """What the construct becomes on each target."""
    fix: str | None
    """What `wanka port fix` rewrites it to (None: left for a person)."""
    manual_hours: float
    """Engineer-hours to port one site by hand (used when no automatic fix applies)."""
    tags: tuple[str, ...] = field(default_factory=tuple)


#: Every rule by id.
RULES: dict[str, Rule] = {
    r["id"]: Rule(
        id=r["id"],
        title=r["title"],
        severity=_all(r["severity"]),
        becomes=_per(r["becomes"]),
        fix=r["fix"],
        manual_hours=float(r["manual_hours"]),
    )
    for r in _TABLE["rules"]
}


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageRule:
    """A CUDA-only third-party package: severity and alternative per target."""

    name: str
    severity: dict[str, str]
    becomes: dict[str, str]
    manual_hours: float


#: CUDA-only third-party packages by top-level import name ("numba.cuda" by its dotted name).
PACKAGES: dict[str, PackageRule] = {
    p["name"]: PackageRule(
        name=p["name"],
        severity=_all(p["severity"]),
        becomes=_per(p["becomes"]),
        manual_hours=float(p["manual_hours"]),
    )
    for p in _TABLE["packages"]
}

"""Accelerator specifications: frozen records built from the catalog, SI units inside.

Glossary: "accelerator", "chip" and "GPU" mean the same thing; APIs say accelerator. The scale-up
domain is the set of accelerators joined by the vendor's memory-semantic fabric (NVLink/NVSwitch,
HCCS, Infinity Fabric, ICI); a node is one server or tray; scale-out is the NIC network between domains.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wanka.errors import CatalogError, ConfigError

__all__ = ["COOLING", "PRECISIONS", "Accelerator", "Server", "SoftwareEfficiency", "peak_key"]

#: Training precisions a run spec may name, and the catalog peak each one runs at.
PRECISIONS: dict[str, str] = {
    "bf16": "bf16",
    "fp16": "fp16",
    "fp8": "fp8",
    "fp8-blockwise": "fp8",  # per-block scales applied in software around fp8 tensor-core GEMMs
    "mxfp8": "mxfp8",
    "nvfp4": "nvfp4",
}

#: Cooling a data-centre hall provides, weakest first; a server needing one runs in it or any later one.
COOLING = ("air", "rear-door", "liquid")


def peak_key(precision: str) -> str:
    """The catalog peak (`peak_flops` key) a training precision runs its GEMMs at."""
    try:
        return PRECISIONS[precision]
    except KeyError:
        raise ConfigError(
            f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}"
        ) from None


@dataclass(frozen=True, slots=True, kw_only=True)
class SoftwareEfficiency:
    """Fractions of peak that a vendor's software stack really reaches on this chip.

    This is the visible, sourced input behind "a chip at 60% of the speed with a good software
    ecosystem beats one at 120% without it". `wanka profile` measures it; `--profile FILE` replaces it.
    """

    gemm: float
    """Fraction of dense matrix peak reached by large, well-shaped GEMMs (the shape curve multiplies it)."""
    attention: float
    """Fraction of dense matrix peak reached by fused (flash-style) attention kernels."""
    memory_bw: float
    """Fraction of HBM bandwidth reached by streaming (memory-bound) kernels."""
    collective: float
    """Fraction of link bandwidth reached by the collective library on large messages."""
    source: str
    """Where these fractions come from (measurement, publication, or what they were fitted on)."""

    def __post_init__(self) -> None:
        for name in ("gemm", "attention", "memory_bw", "collective"):
            v = getattr(self, name)
            if not (0.0 < v <= 1.5):
                raise CatalogError(f"software_efficiency.{name} must be in (0, 1.5], got {v}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Server:
    """The unit a rack holds for one accelerator kind: an 8-GPU server, or a whole NVL72-class rack."""

    accelerators: int
    rack_units: int
    kw: float
    """Maximum power of one server (nameplate), kW."""
    cooling: str
    """The weakest hall cooling it runs in (one of COOLING)."""
    confidence: str
    """vendor-spec | press | derived (tools/import_accelerators.py states the derivation)."""
    source: str

    def __post_init__(self) -> None:
        if self.cooling not in COOLING:
            raise CatalogError(f"server cooling {self.cooling!r}: choose from {', '.join(COOLING)}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Accelerator:
    """One accelerator model, SI units: FLOP/s, bytes, bytes/s, watts, US dollars."""

    id: str
    vendor: str
    name: str
    year: int | None
    peak_flops: dict[str, float]
    """Dense peak matrix throughput per number format (FLOP/s); absent = not supported."""
    hbm_bytes: float
    hbm_bw_bytes_per_s: float
    scaleup_name: str
    scaleup_domain: int
    """Accelerators in one scale-up domain (8 for HGX, 72 for NVL72, 384 for CloudMatrix)."""
    scaleup_bw_bytes_per_s: float
    """Per-accelerator, per-direction scale-up bandwidth."""
    scaleout_bw_bytes_per_s: float
    """Per-accelerator scale-out NIC bandwidth (one direction)."""
    gpus_per_node: int
    tdp_w: float | None
    price_usd: float | None
    software_stack: str
    pytorch_device: str
    collectives_library: str
    software_efficiency: SoftwareEfficiency
    confidence: str
    sources: tuple[str, ...] = field(default_factory=tuple)
    notes: str | None = None
    server: Server | None = None
    """Server form factor (rack units, power, cooling); None when the chip's TDP is unknown."""
    aliases: tuple[str, ...] = ()
    """Other names of this chip that its catalog figures are (a variant the entry's values are)."""

    def peak(self, precision: str) -> float:
        """Dense peak FLOP/s for a training precision; raises ConfigError if the chip lacks it."""
        key = peak_key(precision)
        value = self.peak_flops.get(key)
        if not value and key == "bf16":  # chips without bf16 (V100) train mixed precision in fp16
            value = self.peak_flops.get("fp16")
        if not value and key == "fp16":  # fp16 requested on a chip listing only bf16
            value = self.peak_flops.get("bf16")
        if not value:
            have = sorted(p for p, k in PRECISIONS.items() if self.peak_flops.get(k))
            raise ConfigError(
                f"{self.id} has no {precision} peak in the catalog; it supports "
                f"{', '.join(have) or 'none of the training precisions'}"
            )
        return value

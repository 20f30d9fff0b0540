"""Chip profiles: measure what a chip's software stack really delivers, and feed it to the model.

`run_profile` runs device-neutral micro-benchmarks (numpy on the CPU, or PyTorch on whatever device is
present); `dump_profile`/`load_profile` write and read the `wanka-profile/1` YAML file (docs/profile.md);
`apply_profile` replaces a catalog accelerator's `software_efficiency` with the measured fractions.
"""

from __future__ import annotations

from wanka.profile.bench import Sweep, default_sweep, quick_sweep, run_profile
from wanka.profile.schema import (
    SCHEMA,
    Kernel,
    PeakReference,
    Profile,
    ProfileEfficiency,
    apply_profile,
    calibrated_profile,
    dump_profile,
    load_profile,
    parse_profile,
)

__all__ = [
    "SCHEMA",
    "Kernel",
    "PeakReference",
    "Profile",
    "ProfileEfficiency",
    "Sweep",
    "apply_profile",
    "calibrated_profile",
    "default_sweep",
    "dump_profile",
    "load_profile",
    "parse_profile",
    "quick_sweep",
    "run_profile",
]

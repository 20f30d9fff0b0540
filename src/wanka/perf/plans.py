"""Struct-of-arrays parallel plans: one row per candidate configuration, vectorised evaluation.

Degrees use the Megatron names (`tp pp vpp cp ep etp dp`); `dp` is the data-parallel size of the dense
layers, so `tp * pp * cp * dp == count`, and expert parallelism folds into `tp * cp * dp`
(`ep * etp` divides it). Closed choices are small integer codes so the search can sweep them as arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wanka.errors import ConfigError

__all__ = ["FSDP_CODES", "FSDP_NAMES", "RECOMPUTE_CODES", "RECOMPUTE_NAMES", "PlanArrays"]

FSDP_CODES: dict[str, int] = {"none": 0, "grad_op": 1, "full": 2}
"""fsdp: 0 none (Megatron DDP / distributed optimizer), 1 grad_op (ZeRO-2), 2 full (ZeRO-3 / FSDP)."""
RECOMPUTE_CODES: dict[str, int] = {"none": 0, "selective": 1, "full": 2}
"""recompute: 0 none, 1 selective (core attention, Korthikanti et al. 2022), 2 full (every layer)."""
FSDP_NAMES = {v: k for k, v in FSDP_CODES.items()}
RECOMPUTE_NAMES = {v: k for k, v in RECOMPUTE_CODES.items()}

_INT_FIELDS = ("tp", "pp", "vpp", "cp", "ep", "etp", "dp", "micro_batch_size", "fsdp", "recompute")
_BOOL_FIELDS = ("distributed_optimizer", "sequence_parallel")


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanArrays:
    """Candidate parallel plans as equal-length numpy arrays (int64 degrees, int64 codes, bool flags)."""

    tp: NDArray[np.int64]
    pp: NDArray[np.int64]
    vpp: NDArray[np.int64]
    """Virtual pipeline stages (model chunks) per pipeline rank; 1 = plain 1F1B."""
    cp: NDArray[np.int64]
    ep: NDArray[np.int64]
    etp: NDArray[np.int64]
    """Expert tensor parallel size (Megatron `--expert-tensor-parallel-size`)."""
    dp: NDArray[np.int64]
    micro_batch_size: NDArray[np.int64]
    fsdp: NDArray[np.int64]
    """0 none, 1 grad_op, 2 full (`FSDP_CODES`)."""
    distributed_optimizer: NDArray[np.bool_]
    sequence_parallel: NDArray[np.bool_]
    recompute: NDArray[np.int64]
    """0 none, 1 selective, 2 full (`RECOMPUTE_CODES`)."""

    def __post_init__(self) -> None:
        arrays = {f: np.asarray(getattr(self, f)) for f in _INT_FIELDS + _BOOL_FIELDS}
        try:
            shaped = np.broadcast_arrays(*arrays.values())
        except ValueError as e:
            raise ConfigError(f"PlanArrays fields must have equal lengths: {e}") from None
        for name, arr in zip(arrays, shaped):
            arr = np.atleast_1d(arr)
            arr = arr.astype(np.bool_ if name in _BOOL_FIELDS else np.int64, copy=True)
            if arr.ndim != 1:
                raise ConfigError(
                    f"PlanArrays.{name} must be one-dimensional, got shape {arr.shape}"
                )
            object.__setattr__(self, name, arr)

    def __len__(self) -> int:
        return int(self.tp.shape[0])

    @classmethod
    def of(cls, **values: Any) -> PlanArrays:
        """Build from keyword arrays or scalars (broadcast); missing fields take the single-plan defaults:
        degrees 1, `fsdp`/`recompute` 0, `distributed_optimizer` True, `sequence_parallel` = tp > 1,
        `etp` = tp."""
        tp = np.asarray(values.get("tp", 1))
        d: dict[str, Any] = {
            "tp": tp,
            "pp": 1,
            "vpp": 1,
            "cp": 1,
            "ep": 1,
            "dp": 1,
            "micro_batch_size": 1,
            "fsdp": 0,
            "recompute": 0,
            "distributed_optimizer": True,
        }
        d.update(values)
        d.setdefault("etp", d["tp"])
        d.setdefault("sequence_parallel", np.asarray(d["tp"]) > 1)
        for k in ("fsdp", "recompute"):
            v = d[k]
            if isinstance(v, str):
                d[k] = (FSDP_CODES if k == "fsdp" else RECOMPUTE_CODES)[v]
        return cls(**d)

    @classmethod
    def from_plans(cls, plans: Sequence[Any]) -> PlanArrays:
        """Stack `wanka.parallel.ParallelPlan`s (or anything with the same attribute names)."""
        if not plans:
            raise ConfigError("PlanArrays.from_plans needs at least one plan")
        cols: dict[str, Any] = {f: [] for f in _INT_FIELDS + _BOOL_FIELDS}
        for p in plans:
            tp = int(p.tp)
            row = {
                "tp": tp,
                "pp": p.pp,
                "vpp": getattr(p, "vpp", None) or 1,
                "cp": getattr(p, "cp", None) or 1,
                "ep": getattr(p, "ep", None) or 1,
                "etp": getattr(p, "etp", None) or tp,
                "dp": p.dp,
                "micro_batch_size": getattr(p, "micro_batch_size", None) or 1,
                "fsdp": FSDP_CODES[str(getattr(p, "fsdp", None) or "none")],
                "recompute": RECOMPUTE_CODES[str(getattr(p, "recompute", None) or "none")],
                "distributed_optimizer": bool(getattr(p, "distributed_optimizer", False)),
                "sequence_parallel": bool(getattr(p, "sequence_parallel", False)),
            }
            for k, v in row.items():
                cols[k].append(v)
        return cls(**cols)

    def take(self, idx: Any) -> PlanArrays:
        """Rows `idx` (indices or a boolean mask) as a new PlanArrays."""
        return PlanArrays(
            **{f.name: np.atleast_1d(getattr(self, f.name)[idx]) for f in fields(self)}
        )

    def row(self, i: int) -> dict[str, Any]:
        """Row `i` as plain Python values, with `fsdp`/`recompute` as names."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)[i].item()
            if f.name == "fsdp":
                v = FSDP_NAMES[v]
            elif f.name == "recompute":
                v = RECOMPUTE_NAMES[v]
            out[f.name] = v
        return out

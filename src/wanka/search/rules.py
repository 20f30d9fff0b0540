"""Which layouts the search enumerates: every valid layout (`wanka.parallel.validity_rules`, the one home
shared with `predict` and the simulator) minus the space's own choices, each a named rule.

The space's own rules (a valid layout outside them is still predicted by `predict`, just not enumerated):
- `space:divides`: tp*pp*cp divides count (dp = count / (tp*pp*cp) is derived, not searched);
- `space:cp_split`: cp == 1 or seq_len % (2*cp) == 0 (Megatron's load-balanced causal split);
- `space:even_chunks`: the pp*vpp model chunks split the layers evenly once Megatron's optional
  embedding and loss stages, one uneven first/last stage and the MTP layers are counted;
- `space:expert_ffn` (MoE): expert_ffn % etp == 0; `space:etp_count` (MoE, `strict_experts=False`):
  etp*ep <= count; `space:etp_dense` (dense): etp == 1 (no duplicate candidates);
- `space:sp_tp1`: sequence_parallel only with tp > 1; `space:dist_opt_fsdp`: distributed_optimizer only
  with fsdp == none;
- `space:<dim>`: each value is among the searched values of its dimension (`SpaceDims`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from wanka.parallel import (
    DEGREES,
    FOLD,
    FSDP_MODES,
    RECOMPUTE_MODES,
    Problem,
    Rule,
    apply_rules,
    validity_rules,
)
from wanka.workload.model import ModelSpec

if TYPE_CHECKING:
    from wanka.search.space import SpaceDims

__all__ = ["FLAGS", "NAMES", "search_rules", "space_problems"]

#: Flag columns (fsdp and recompute as codes, the two booleans as 0/1).
FLAGS = ("fsdp", "distributed_optimizer", "sequence_parallel", "recompute")
NAMES = DEGREES + FLAGS
_DIMS = ("tp", "pp", "cp", "vpp", "ep", "etp", "micro_batch_size")


def _value_rules(dims: SpaceDims) -> list[Rule]:
    """`space:<dim>`: the value is one of the searched values of that dimension."""
    out: list[Rule] = []
    codes = {
        "fsdp": [FSDP_MODES.index(v) for v in dims.fsdp],
        "recompute": [RECOMPUTE_MODES.index(v) for v in dims.recompute],
        "distributed_optimizer": [int(v) for v in dims.distributed_optimizer],
        "sequence_parallel": [int(v) for v in dims.sequence_parallel],
    }
    for k in _DIMS + FLAGS:
        allowed = np.asarray(codes.get(k, getattr(dims, k)), dtype=np.int64)
        out.append(
            (
                f"space:{k}",
                (k,),
                lambda c, k=k, allowed=allowed: ~np.isin(c[k], allowed),
                lambda r, k=k: f"{k} ({r[k]}) is not among the searched values",
            )
        )
    return out


def _space_rules(model: ModelSpec, dims: SpaceDims, count: int, seq_len: int) -> list[Rule]:
    L, extra = model.layers, 3 + model.mtp_layers
    rules: list[Rule] = [
        (
            "space:divides",
            ("tp", "pp", "cp"),
            lambda c: count % (c["tp"] * c["pp"] * c["cp"]) != 0,
            lambda r: f"tp*pp*cp ({r['tp']}*{r['pp']}*{r['cp']}) does not divide count ({count})",
        ),
        (
            "space:cp_split",
            ("cp",),
            lambda c: (c["cp"] != 1) & (seq_len % (2 * c["cp"]) != 0),
            lambda r: f"cp > 1 needs seq_len ({seq_len}) divisible by 2*cp (2*{r['cp']})",
        ),
        (
            "space:even_chunks",
            ("pp", "vpp"),
            lambda c: (
                ~np.logical_or.reduce(
                    [(L + e) % (c["pp"] * c["vpp"]) == 0 for e in range(extra + 1)]
                )
            ),
            lambda r: (
                f"pp*vpp ({r['pp']}*{r['vpp']}) chunks do not split {L} layers evenly "
                f"(with up to {extra} embedding/loss/MTP chunks)"
            ),
        ),
    ]
    if model.moe is None:
        rules.append(
            (
                "space:etp_dense",
                ("etp",),
                lambda c: c["etp"] != 1,
                lambda r: f"etp ({r['etp']}) must be 1 for a dense model",
            )
        )
    else:
        ffn = model.moe.expert_ffn
        rules.append(
            (
                "space:expert_ffn",
                ("etp",),
                lambda c: ffn % c["etp"] != 0,
                lambda r: f"expert_ffn ({ffn}) must be divisible by etp ({r['etp']})",
            )
        )
        if not dims.strict_experts:
            rules.append(
                (
                    "space:etp_count",
                    ("ep", "etp"),
                    lambda c: c["etp"] * c["ep"] > count,
                    lambda r: f"etp*ep ({r['etp']}*{r['ep']}) exceeds count ({count})",
                )
            )
    rules += [
        (
            "space:sp_tp1",
            ("tp", "sequence_parallel"),
            lambda c: (c["sequence_parallel"] != 0) & (c["tp"] == 1),
            lambda r: "sequence_parallel is a no-op at tp = 1",
        ),
        (
            "space:dist_opt_fsdp",
            ("fsdp", "distributed_optimizer"),
            lambda c: (c["distributed_optimizer"] != 0) & (c["fsdp"] != 0),
            lambda r: "distributed_optimizer only with fsdp none (FSDP already shards the state)",
        ),
    ]
    return rules + _value_rules(dims)


def search_rules(
    model: ModelSpec, dims: SpaceDims, *, count: int, global_batch_size: int, seq_len: int
) -> list[Rule]:
    """The validity rules followed by the space's own rules (this module's docstring)."""
    valid = validity_rules(model, count=count, global_batch_size=global_batch_size, seq_len=seq_len)
    return valid + _space_rules(model, dims, count, seq_len)


def space_problems(
    model: ModelSpec,
    dims: SpaceDims,
    cols: Any,
    *,
    count: int,
    global_batch_size: int,
    seq_len: int,
    skip: frozenset[str] = frozenset(),
) -> list[Problem]:
    """Why each layout in `cols` is not one of the search's candidates: validity problems first (the
    same rules and reasons as `predict`), then the space's own rules (ids starting with `space:`)."""
    table = search_rules(
        model, dims, count=count, global_batch_size=global_batch_size, seq_len=seq_len
    )
    warn = frozenset() if dims.strict_experts else FOLD
    return apply_rules(table, cols, skip=skip, warn=warn, names=NAMES)

"""Communication for the step model: every collective goes through ONE model,
`wanka.topology.collective.collective_time`, via the adapter `collective_s` below.

Rank layout (Megatron-LM's default order `tp-cp-ep-dp-pp`, innermost first): a TP group is `tp`
consecutive ranks (stride 1), a CP group has stride `tp`, the dense DP group (size `dp * cp` for gradient
reduction, Megatron's data-parallel-with-context group) stride `tp`, the expert groups use the expert
order `etp-ep-edp-pp` (EP stride `etp`, expert-DP stride `etp * ep`), and PP stride `tp * cp * dp`.
A group of `n` members with stride `s` has `min(n, max(1, D // s))` members in one scale-up domain of
`D` accelerators (`ranks_per_node` of the collective model); `D >= n * s` means the whole group rides the
scale-up links, otherwise the collective model prices the hierarchical case.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from wanka.hardware import Accelerator
from wanka.topology.collective import collective_time as _collective_time

__all__ = ["collective_s", "members_per_domain", "scaleup_domain_size"]


def scaleup_domain_size(accelerator: Accelerator, gpus_per_node: int) -> int:
    """Accelerators sharing one scale-up domain: the catalog domain when it spans several nodes
    (NVL72, CloudMatrix), else the node (HGX: NVLink reaches the 8 GPUs of one server)."""
    if accelerator.scaleup_bw_bytes_per_s <= 0:
        return 1
    if accelerator.scaleup_domain > accelerator.gpus_per_node:
        return int(accelerator.scaleup_domain)
    return int(gpus_per_node)


def members_per_domain(
    size: NDArray[np.float64], stride: NDArray[np.float64], domain: int
) -> NDArray[np.float64]:
    """Members of a group (`size` ranks, `stride` apart) inside one scale-up domain of `domain` ranks."""
    return np.minimum(size, np.maximum(1.0, np.floor(domain / np.maximum(stride, 1.0))))


def collective_s(
    op: str,
    nbytes: Any,
    ranks: Any,
    ranks_per_node: Any,
    accelerator: Accelerator,
    *,
    fabric: Any = None,
) -> NDArray[np.float64]:
    """Seconds for one collective (nccl-tests `size` convention: `nbytes` is the full buffer per rank).

    Groups of one rank (or zero bytes) cost nothing. Broadcasts over numpy arrays.
    """
    nbytes = np.asarray(nbytes, dtype=np.float64)
    ranks = np.asarray(ranks, dtype=np.float64)
    rpn = np.minimum(np.asarray(ranks_per_node, dtype=np.float64), ranks)
    nbytes, ranks, rpn = np.broadcast_arrays(nbytes, ranks, rpn)
    active = (ranks > 1.0) & (nbytes > 0.0)
    if not np.any(active):
        return np.zeros(nbytes.shape)
    out = np.zeros(nbytes.shape)
    idx = np.nonzero(active)
    n_b, n_r, n_p = nbytes[idx], ranks[idx], rpn[idx]
    kw = {"fabric": fabric} if fabric is not None else {}
    t = _collective_time(op, n_b, n_r.astype(np.int64), n_p.astype(np.int64), accelerator, **kw)
    out[idx] = np.asarray(t, dtype=np.float64)
    return out

"""Heterogeneous step model: one job whose pipeline stages and data-parallel replicas sit on several kinds.

Composition (per optimizer step; every term is the homogeneous model's, evaluated on the chip that runs it):

* Per-kind terms. For each (group, tp, micro-batch size) the homogeneous `evaluate` runs one micro-batch
  of a one- and a two-layer copy of the model on that group's chip (pp = dp = 1). The model is linear in
  the layer count, so the difference is one layer's forward + backward + recompute + exposed TP time and
  its weights, gradients, optimizer state and activations; the rest is the embedding/head end. TP traffic
  therefore rides that group's own scale-up (NVLink, PCIe, HCCS).
* Stage j of pipeline i: t_ij = layers_j x t_layer + framework overhead + (last stage) head, plus the
  point-to-point send of its activation (forward) and gradient (backward) to the next stage, priced by
  the shared collective model on the slower of the two groups' links (scale-up when both sit in one
  server, else the slower NIC).
* Pipeline i (1F1B, Narayanan et al. 2021) with m_i = G x share_i / b micro-batches and unequal stages:
  T_i = sum_j t_ij + (m_i - 1) x max_j t_ij, i.e. the slowest stage sets the pace and the fill/drain
  bubble is the sum of the other stages' times (= (p - 1) t for equal stages, the homogeneous model).
* Gradient all-reduce of stage j over its replicas (fp32 or the run's gradient dtype), a ring on the
  slowest member's network (mixed kinds: the slower NIC), started when stage j's last backward is done:
  it hides behind the backward of the earlier stages still draining (2/3 of their per-micro-batch time),
  the rest is exposed. Tied input/output embeddings add the first/last-stage embedding all-reduce.
* step = max_i T_i + max_j exposed DP_j + max_j optimizer_j + per-step overhead. Each stage's memory is
  checked against its own chip (1F1B: stage j holds min(m, p - j) micro-batches of activations).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from wanka.errors import ConfigError, InfeasiblePlan
from wanka.hardware import Accelerator
from wanka.perf.comm import collective_s
from wanka.perf.context import FP32_BYTES
from wanka.perf.params import (
    Calibration,
    HeteroCalibration,
    default_calibration,
    default_hetero_calibration,
)
from wanka.perf.plans import RECOMPUTE_CODES, PlanArrays
from wanka.perf.step import evaluate
from wanka.units import GiB
from wanka.workload.counts import flops_per_step

__all__ = ["HETERO_ASSUMPTIONS", "kind_terms", "predict_hetero"]

HETERO_ASSUMPTIONS = (
    (
        "heterogeneous pipeline: 1F1B, the slowest stage sets the pace; fill/drain bubble = the "
        "other stages' per-micro-batch times"
    ),
    (
        "ranks laid out stage-major inside each group (stage, then replica, then tp), as the "
        "DeepSpeed and Megatron pipeline topologies order them"
    ),
    (
        "gradient all-reduce per stage after its last backward (no bucketed overlap), on the "
        "slowest member's network; hidden only behind earlier stages' remaining backward"
    ),
    "a server's scale-out bandwidth is shared by its ranks that cross the network at once",
)


def nic_share(acc: Accelerator, node_bytes_per_s: float, flows: int) -> Accelerator:
    """The chip with the NIC bandwidth one of `flows` concurrent senders of its server gets."""
    share = node_bytes_per_s / max(int(flows), 1)
    if share == acc.scaleout_bw_bytes_per_s:
        return acc
    return replace(acc, scaleout_bw_bytes_per_s=share)


_TIME = ("compute_s", "recompute_s", "exposed_tp_s", "exposed_cp_s", "exposed_ep_s")
_LINEAR = {
    "weights": "weights_bytes",
    "grads": "grads_bytes",
    "opt": "optimizer_bytes",
    "act": "activations_bytes",
    "opt_": "optimizer_s",
}


_TERMS_CACHE: dict[tuple[Any, ...], dict[str, float]] = {}


def kind_terms(
    model: Any,
    acc: Accelerator,
    tp: int,
    *,
    gpus_per_node: int,
    b: int,
    precision: str,
    recompute: str,
    sequence_parallel: bool,
    cal: Calibration,
) -> dict[str, float]:
    """Per-layer and per-end terms of one micro-batch on one (chip, tp): the homogeneous `evaluate` on a
    1- and a 2-layer copy of the model (pp = dp = 1); the model is linear in layers, so
    per layer = two - one and ends (embedding, final norm, head, loss) = 2 one - two."""
    key = (
        repr(model),
        acc.id,
        acc.software_efficiency,
        acc.scaleout_bw_bytes_per_s,
        acc.scaleup_bw_bytes_per_s,
        tp,
        gpus_per_node,
        b,
        precision,
        recompute,
        sequence_parallel,
        repr(cal),
    )
    hit = _TERMS_CACHE.get(key)
    if hit is not None:
        return hit
    if len(_TERMS_CACHE) > 4096:
        _TERMS_CACHE.clear()
    plans = PlanArrays(
        tp=np.array([tp]),
        pp=np.array([1]),
        vpp=np.array([1]),
        cp=np.array([1]),
        ep=np.array([1]),
        etp=np.array([tp]),
        dp=np.array([1]),
        micro_batch_size=np.array([b]),
        fsdp=np.array([0]),
        distributed_optimizer=np.array([False]),
        sequence_parallel=np.array([sequence_parallel and tp > 1]),
        recompute=np.array([RECOMPUTE_CODES[recompute]]),
    )
    fp32 = precision == "fp32"
    run_acc, run_prec = (_fp32_view(acc), "fp16") if fp32 else (acc, precision)
    one, two = (
        evaluate(
            replace(model, layers=k),
            run_acc,
            plans,
            count=tp,
            gpus_per_node=gpus_per_node,
            global_batch_size=b,
            seq_len=model.seq_len,
            precision=run_prec,
            calibration=cal,
            strict_experts=False,
        ).row(0)
        for k in (1, 2)
    )
    if np.isnan(one["step_time_s"]) or np.isnan(two["step_time_s"]):
        raise InfeasiblePlan(f"tp {tp} is not valid for this model on {acc.id}")
    t1, t2 = (sum(r[k] for k in _TIME) for r in (one, two))
    out = {"layer_s": t2 - t1, "head_s": 2 * t1 - t2, "buffers": one["buffers_bytes"]}
    for short, col in _LINEAR.items():
        per, ends = two[col] - one[col], 2 * one[col] - two[col]
        if short == "opt_":
            out["opt_layer_s"], out["opt_end_s"] = per, ends
        else:
            out[f"layer_{short}"], out[f"end_{short}"] = per, ends
    out["layer_params"] = out["layer_grads"] / cal.main_grad_bytes
    out["end_params"] = out["end_grads"] / cal.main_grad_bytes
    if (
        fp32
    ):  # fp32 params and grads (4 B each), Adam m and v (8 B, no separate master), fp32 activations
        for part in ("layer", "end"):
            out[f"{part}_weights"] = out[f"{part}_params"] * FP32_BYTES
            out[f"{part}_grads"] = out[f"{part}_params"] * FP32_BYTES
            out[f"{part}_opt"] = out[f"{part}_params"] * 2 * FP32_BYTES
            out[f"{part}_act"] = out[f"{part}_act"] * 2.0
    _TERMS_CACHE[key] = out
    return out


def _fp32_view(acc: Accelerator) -> Accelerator:
    """The chip as an fp32 run sees it: its matrix units at the fp32 peak, and every byte stream (HBM,
    scale-up, NIC) carrying 4-byte elements, i.e. half the 2-byte elements per second of a 16-bit run."""
    peak = acc.peak_flops.get("fp32")
    if not peak:
        raise ConfigError(f"{acc.id} has no fp32 peak in the catalog")
    return replace(
        acc,
        peak_flops={"fp16": peak, "bf16": peak},
        hbm_bw_bytes_per_s=acc.hbm_bw_bytes_per_s / 2.0,
        scaleup_bw_bytes_per_s=acc.scaleup_bw_bytes_per_s / 2.0,
        scaleout_bw_bytes_per_s=acc.scaleout_bw_bytes_per_s / 2.0,
    )


def element_bytes(precision: str) -> float:
    """Bytes of one activation element between stages: 4 in fp32 runs, 2 otherwise."""
    return FP32_BYTES if precision == "fp32" else 2.0


def grad_reduce_bytes(precision: str, cal: Calibration, hc: HeteroCalibration) -> float:
    """Bytes per gradient element in the data-parallel reduction: fp32 for fp16 (loss-scaled) and fp32
    runs, the calibration's gradient buffer dtype otherwise."""
    return hc.grad_reduce_bytes if precision in ("fp16", "fp32") else cal.main_grad_bytes


def _placement(run: Any) -> tuple[list[list[tuple[int, int]]], list[dict[tuple[int, int], int]]]:
    """(group, server) of every replica of every stage (ranks stage-major inside each group), and per
    stage the ranks it has on each server (the senders that share that server's NIC)."""
    nxt = [0] * len(run.groups)
    place, ranks = [], []
    for st in run.stages:
        row: list[tuple[int, int]] = []
        per: dict[tuple[int, int], int] = {}
        for r in st.replicas:
            key = (r.group, nxt[r.group] // run.groups[r.group].gpus_per_node)
            row.append(key)
            per[key] = per.get(key, 0) + r.tp
            nxt[r.group] += r.tp
        place.append(row)
        ranks.append(per)
    return place, ranks


def _link(run: Any, ends: list[tuple[tuple[int, int], int]]) -> Accelerator:
    """The chip pricing traffic among servers `ends` ((group, server), concurrent senders there): the
    smallest NIC share, and across kinds the slower scale-up."""
    shares = [(run.groups[g].node_scale_out_bytes_per_s / max(f, 1), g) for (g, _), f in ends]
    bw, g = min(shares)
    acc = replace(run.groups[g].accelerator, scaleout_bw_bytes_per_s=bw)
    kinds = {gg for (gg, _), _ in ends}
    if len(kinds) > 1:
        up = min(run.groups[k].accelerator.scaleup_bw_bytes_per_s for k in kinds)
        acc = replace(acc, scaleup_bw_bytes_per_s=up)
    return acc


def _coll(op: str, nbytes: float, ranks: int, rpn: int, acc: Accelerator) -> float:
    """One collective through the shared model (`perf.comm.collective_s`), as a float."""
    one = np.ones(1)
    return float(collective_s(op, nbytes * one, ranks * one, rpn * one, acc)[0])


def _p2p_s(run: Any, pl: Any, j: int, i: int, nbytes: float, memo: dict[Any, float]) -> float:
    """Send one activation (each TP rank sends its copy) from stage j to j + 1 of pipeline i."""
    place, ranks = pl
    a, b = place[j][i], place[j + 1][i]
    key = (a[0], b[0], a == b, ranks[j][a], ranks[j + 1][b])
    hit = memo.get(key)
    if hit is None:
        if a == b:
            hit = _coll("send-recv", nbytes, 2, 2, run.groups[a[0]].accelerator)
        else:
            acc = _link(run, [(a, ranks[j][a]), (b, ranks[j + 1][b])])
            hit = _coll("send-recv", nbytes, 2, 1, acc)
        memo[key] = hit
    return hit


def _allreduce_s(run: Any, pl: Any, j: int, nbytes: float) -> float:
    """Ring all-reduce of `nbytes` per rank over stage j's replicas (all TP shards at once)."""
    place, ranks = pl
    n = len(place[j])
    if n < 2 or nbytes <= 0:
        return 0.0
    servers = sorted(set(place[j]))
    if len(servers) == 1:
        return _coll("all-reduce", nbytes, n, n, run.groups[servers[0][0]].accelerator)
    rpn = min(place[j].count(s) for s in servers)
    acc = _link(run, [(s, ranks[j][s]) for s in servers])
    return _coll("all-reduce", nbytes, n, rpn, acc)


def unfused_s(acc: Accelerator, hc: HeteroCalibration, b: Any, model: Any) -> Any:
    """Seconds per layer per micro-batch of the unfused-kernel traffic (`layer_bytes_per_token`)."""
    rate = max(acc.hbm_bw_bytes_per_s, 1.0) * acc.software_efficiency.memory_bw
    return hc.layer_bytes_per_token * b * model.seq_len / rate


def _stage_arrays(run: Any, cal: Calibration, hc: HeteroCalibration) -> dict[str, np.ndarray]:
    """Per (stage, pipeline) time of one micro-batch and memory, arrays of shape [stages, pipelines]."""
    P, D = len(run.stages), run.pipelines
    terms: dict[tuple[int, int], dict[str, float]] = {}
    for st in run.stages:
        for r in st.replicas:
            if (r.group, r.tp) not in terms:
                g = run.groups[r.group]
                terms[r.group, r.tp] = kind_terms(
                    run.model,
                    nic_share(g.accelerator, g.node_scale_out_bytes_per_s, g.gpus_per_node),
                    r.tp,
                    gpus_per_node=g.gpus_per_node,
                    b=run.micro_batch_size,
                    precision=run.precision,
                    recompute=run.recompute,
                    sequence_parallel=run.sequence_parallel,
                    cal=cal,
                )
    pl = _placement(run)
    m = np.array(run.batch_shares) * run.global_batch_size / run.micro_batch_size  # [D]
    act_bytes = (
        run.micro_batch_size * run.model.seq_len * run.model.hidden * element_bytes(run.precision)
    )
    gbytes = grad_reduce_bytes(run.precision, cal, hc)
    tied = bool(run.model.tied_embeddings)
    out = {k: np.zeros((P, D)) for k in ("t", "mem", "grads", "opt_s", "hbm", "bwd")}
    memo: dict[Any, float] = {}
    for j, st in enumerate(run.stages):
        first, last = j == 0, j == P - 1
        for i, r in enumerate(st.replicas):
            k = terms[r.group, r.tp]
            n = st.layers
            g = run.groups[r.group]
            p2p = 2.0 * _p2p_s(run, pl, j, i, act_bytes, memo) if not last else 0.0
            t = (
                n * (k["layer_s"] + unfused_s(g.accelerator, hc, run.micro_batch_size, run.model))
                + cal.microbatch_overhead_s
                + (k["head_s"] if last else 0.0)
                + p2p
            )
            # the 1- and 2-layer copies hold both ends on one stage: one end's states are half of them
            # untied, all of them tied (each end then keeps its own copy of the shared matrix)
            ends = (first + last) if P > 1 else 1
            share = (1.0 if tied else 0.5) if P > 1 else 1.0
            st_end = share * ends * (k["end_weights"] + k["end_grads"] + k["end_opt"])
            dp_shard = D if run.distributed_optimizer else 1
            states = (
                n * (k["layer_weights"] + k["layer_grads"] + k["layer_opt"] / dp_shard) + st_end
            )
            in_flight = np.minimum(m[i], P - j)
            acts = n * k["layer_act"] * in_flight + (k["end_act"] if last else 0.0)
            out["t"][j, i] = t
            out["bwd"][j, i] = (1.0 - 1.0 / 3.0) * (t - p2p)
            out["mem"][j, i] = states + acts + k["buffers"]
            out["grads"][j, i] = (n * k["layer_params"] + share * ends * k["end_params"]) * gbytes
            out["opt_s"][j, i] = n * k["opt_layer_s"] + share * ends * k["opt_end_s"]
            out["hbm"][j, i] = g.accelerator.hbm_bytes * (1.0 - cal.allocator_margin)
    out["m"] = m
    out["place"] = pl  # type: ignore[assignment]
    return out


def _compose(
    run: Any, a: dict[str, Any], cal: Calibration, hc: HeteroCalibration
) -> dict[str, Any]:
    """Pipeline, data-parallel and optimizer composition of the per-stage arrays."""
    t, m = a["t"], a["m"]
    P = t.shape[0]
    slow = t.max(axis=0)  # [D] slowest stage of each pipeline
    pipe = t.sum(axis=0) + (m - 1.0) * slow
    ipipe = int(np.argmax(pipe))
    # gradient all-reduce per stage over its replicas, hidden behind earlier stages' draining backward
    dp_exposed = np.zeros(P)
    for j in range(P):
        ar = _allreduce_s(run, a["place"], j, float(a["grads"][j].max()))
        slack = float(a["bwd"][:j, ipipe].sum())
        dp_exposed[j] = max(0.0, ar - slack)
    emb = 0.0
    if run.model.tied_embeddings and P > 1:  # first/last stage share the embedding gradient
        place, ranks = a["place"]
        s0, s1 = place[0][ipipe], place[-1][ipipe]
        tp0 = run.stages[0].replicas[ipipe].tp
        # the pipeline engines reduce the tied weight's gradient as the module holds it (fp16/bf16),
        # outside the fp32 data-parallel buckets (DeepSpeed `_exec_reduce_tied_grads`)
        nbytes = run.model.vocab * run.model.hidden * element_bytes(run.precision) / tp0
        if s0 == s1:
            emb = _coll("all-reduce", nbytes, 2, 2, run.groups[s0[0]].accelerator)
        else:
            acc = _link(run, [(s0, ranks[0][s0]), (s1, ranks[-1][s1])])
            emb = _coll("all-reduce", nbytes, 2, 1, acc)
    return {
        "pipe_s": float(pipe[ipipe]),
        "slowest_stage_s": float(slow[ipipe]),
        "dp_s": float(dp_exposed.max()) + emb,
        "opt_s": float(a["opt_s"].max()),
        "pipeline": ipipe,
    }


def _flop_peak(run: Any) -> float:
    def peak(acc: Accelerator) -> float:
        return acc.peak_flops["fp32"] if run.precision == "fp32" else acc.peak(run.precision)

    return sum(
        peak(run.groups[r.group].accelerator) * r.tp for st in run.stages for r in st.replicas
    )


def predict_hetero(
    run: Any, *, calibration: Calibration | None = None, hetero: HeteroCalibration | None = None
) -> dict[str, Any]:
    """The `predict` contract for a `HeteroRunSpec`, plus `stages` (docs/design.md)."""
    if run.model.layer_pattern is not None:
        raise ConfigError("heterogeneous runs support transformer models (no hybrid layer_pattern)")
    cal = calibration or default_calibration()
    hc = hetero or default_hetero_calibration()
    a = _stage_arrays(run, cal, hc)
    c = _compose(run, a, cal, hc)
    step = c["pipe_s"] + c["dp_s"] + c["opt_s"] + cal.step_overhead_s
    count = run.count
    G, s = run.global_batch_size, run.model.seq_len
    flops = float(flops_per_step(run.model, G, s))
    fits = a["mem"] <= a["hbm"]
    worst = np.unravel_index(int(np.argmax(a["mem"] / a["hbm"])), a["mem"].shape)
    i = c["pipeline"]
    m = float(a["m"][i])
    stages = []
    for j, st in enumerate(run.stages):
        stages.append(
            {
                "layers": st.layers,
                "groups": sorted({run.groups[r.group].name for r in st.replicas}),
                "time_s": float((a["t"][j] * a["m"]).max()),
                "peak_memory_gib": float(a["mem"][j].max() / GiB),
                "fits": bool(fits[j].all()),
            }
        )
    bad = [f"stage {j}" for j, x in enumerate(stages) if not x["fits"]]
    compute = m * c["slowest_stage_s"]
    return {
        "id": run.id,
        "tokens_per_s_per_gpu": G * s / (step * count),
        "tokens_per_s": G * s / step,
        "step_time_s": step,
        "model_tflops_per_gpu": flops / (step * count) / 1e12,
        "mfu": flops / step / _flop_peak(run),
        "peak_memory_gib": float(a["mem"][worst] / GiB),
        "fits": bool(fits.all()),
        "breakdown": {
            "compute_s": compute,
            "recompute_s": 0.0,
            "bubble_s": c["pipe_s"] - compute,
            "exposed_comm_s": {"tp": 0.0, "cp": 0.0, "ep": 0.0, "pp": 0.0, "dp": c["dp_s"]},
            "optimizer_s": c["opt_s"],
            "overhead_s": cal.step_overhead_s,
        },
        "microbatches": round(m),
        "stages": stages,
        "assumptions": list(run.assumptions)
        + list(HETERO_ASSUMPTIONS)
        + ([f"stages that do not fit in memory: {', '.join(bad)}"] if bad else [])
        + [f"calibration: {cal.source}"],
    }

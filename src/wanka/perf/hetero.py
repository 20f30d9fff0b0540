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

from collections import Counter
from dataclasses import replace
from typing import Any

import numpy as np

from wanka.errors import ConfigError, InfeasiblePlan
from wanka.hardware import Accelerator
from wanka.perf.comm import collective_s
from wanka.perf.context import FP32_BYTES
from wanka.perf.exposed import PARAM_GATHER_BYTES, ddp_exposed_s
from wanka.perf.memory import in_flight
from wanka.perf.params import (
    DEFAULT_OVERLAP,
    Calibration,
    HeteroCalibration,
    default_calibration,
    default_hetero_calibration,
)
from wanka.perf.plans import RECOMPUTE_CODES, PlanArrays
from wanka.perf.step import evaluate
from wanka.units import GiB
from wanka.workload.counts import flops_per_step

__all__ = ["HETERO_ASSUMPTIONS", "kind_terms", "kind_terms_many", "predict_hetero"]

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
    cp: int = 1,
) -> dict[str, float]:
    """Per-layer and per-end terms of one micro-batch on one (chip, tp, cp): the homogeneous
    `evaluate` on a 1- and a 2-layer copy of the model (pp = dp = 1); the model is linear in layers,
    so per layer = two - one and ends (embedding, final norm, head, loss) = 2 one - two."""
    return kind_terms_many(
        model,
        acc,
        tp,
        gpus_per_node=gpus_per_node,
        b=b,
        precision=precision,
        recomputes=(recompute,),
        sequence_parallel=sequence_parallel,
        cal=cal,
        cp=cp,
    )[0]


def kind_terms_many(
    model: Any,
    acc: Accelerator,
    tp: int,
    *,
    gpus_per_node: int,
    b: int,
    precision: str,
    recomputes: tuple[str, ...],
    sequence_parallel: bool,
    cal: Calibration,
    cp: int = 1,
) -> list[dict[str, float]]:
    """`kind_terms` for several recompute settings, one vectorised `evaluate` per layer count."""
    base = (
        repr(model),
        acc.id,
        acc.software_efficiency,
        acc.scaleout_bw_bytes_per_s,
        acc.scaleup_bw_bytes_per_s,
        tp,
        gpus_per_node,
        b,
        precision,
        sequence_parallel,
        repr(cal),
        cp,
    )
    hits = [_TERMS_CACHE.get((*base, rc)) for rc in recomputes]
    if all(h is not None for h in hits):
        return hits  # type: ignore[return-value]
    if len(_TERMS_CACHE) > 4096:
        _TERMS_CACHE.clear()
    n = len(recomputes)
    plans = PlanArrays(
        tp=np.full(n, tp),
        pp=np.ones(n, dtype=np.int64),
        vpp=np.ones(n, dtype=np.int64),
        cp=np.full(n, cp),
        ep=np.ones(n, dtype=np.int64),
        etp=np.full(n, tp),
        dp=np.ones(n, dtype=np.int64),
        micro_batch_size=np.full(n, b),
        fsdp=np.zeros(n, dtype=np.int8),
        distributed_optimizer=np.zeros(n, dtype=bool),
        sequence_parallel=np.full(n, sequence_parallel and tp > 1),
        recompute=np.array([RECOMPUTE_CODES[rc] for rc in recomputes], dtype=np.int8),
    )
    fp32 = precision == "fp32"
    run_acc, run_prec = (_fp32_view(acc), "fp16") if fp32 else (acc, precision)
    one, two = (
        evaluate(
            replace(model, layers=k),
            run_acc,
            plans,
            count=tp * cp,
            gpus_per_node=gpus_per_node,
            global_batch_size=b,
            seq_len=model.seq_len,
            precision=run_prec,
            calibration=cal,
            strict_experts=False,
        )
        for k in (1, 2)
    )
    out = [_difference(one.row(i), two.row(i), cal, fp32) for i in range(n)]
    if any(o is None for o in out):
        raise InfeasiblePlan(f"tp {tp} x cp {cp} is not valid for this model on {acc.id}")
    for rc, o in zip(recomputes, out, strict=True):
        _TERMS_CACHE[(*base, rc)] = o  # type: ignore[assignment]
    return out  # type: ignore[return-value]


def _difference(
    one: dict[str, Any], two: dict[str, Any], cal: Calibration, fp32: bool
) -> dict[str, float] | None:
    """Per layer (two - one) and per end (2 one - two) of the 1- and 2-layer rows; None if invalid."""
    if np.isnan(one["step_time_s"]) or np.isnan(two["step_time_s"]):
        return None
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
    if fp32:  # fp32 params and grads (4 B each), Adam m and v (8 B, no master), fp32 activations
        for part in ("layer", "end"):
            out[f"{part}_weights"] = out[f"{part}_params"] * FP32_BYTES
            out[f"{part}_grads"] = out[f"{part}_params"] * FP32_BYTES
            out[f"{part}_opt"] = out[f"{part}_params"] * 2 * FP32_BYTES
            out[f"{part}_act"] = out[f"{part}_act"] * 2.0
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
    """(group, server) of every replica of every stage (ranks stage-major inside each group; a replica
    spans tp x cp ranks), and per stage the ranks it has on each server (the senders that share that
    server's NIC)."""
    nxt = [0] * len(run.groups)
    place, ranks = [], []
    for st in run.stages:
        row: list[tuple[int, int]] = []
        per: dict[tuple[int, int], int] = {}
        for r in st.replicas:
            key = (r.group, nxt[r.group] // run.groups[r.group].gpus_per_node)
            row.append(key)
            per[key] = per.get(key, 0) + r.tp * run.cp
            nxt[r.group] += r.tp * run.cp
        place.append(row)
        ranks.append(per)
    return place, ranks


def _link(run: Any, ends: list[tuple[tuple[int, int], int]]) -> Accelerator:
    """The chip pricing traffic among servers `ends` ((group, server), concurrent senders there): the
    smallest NIC share, and across kinds the slower scale-up."""
    shares = [
        (run.groups[g].node_scale_out_bytes_per_s / min(max(f, 1), run.groups[g].gpus_per_node), g)
        for (g, _), f in ends
    ]
    bw, g = min(shares)
    acc = replace(run.groups[g].accelerator, scaleout_bw_bytes_per_s=bw)
    kinds = {gg for (gg, _), _ in ends}
    if len(kinds) > 1:
        up = min(run.groups[k].accelerator.scaleup_bw_bytes_per_s for k in kinds)
        acc = replace(acc, scaleup_bw_bytes_per_s=up)
    return acc


_COLL_MEMO: dict[tuple[Any, ...], float] = {}


def _coll(op: str, nbytes: float, ranks: int, rpn: int, acc: Accelerator) -> float:
    """One collective through the shared model (`perf.comm.collective_s`), as a float (memoised on
    the chip's links: the stages of a plan repeat the same few collectives)."""
    key = (op, nbytes, ranks, rpn, acc.id, acc.scaleout_bw_bytes_per_s, acc.scaleup_bw_bytes_per_s)
    hit = _COLL_MEMO.get(key)
    if hit is None:
        if len(_COLL_MEMO) > 65536:
            _COLL_MEMO.clear()
        one = np.ones(1)
        hit = float(collective_s(op, nbytes * one, ranks * one, rpn * one, acc)[0])
        _COLL_MEMO[key] = hit
    return hit


def _p2p_s(
    run: Any, pl: Any, j: int, k: int, i: int, nbytes: float, memo: dict[Any, float]
) -> float:
    """Send one activation (each TP x CP rank sends its part) from stage j to stage k of pipeline i."""
    place, ranks = pl
    a, b = place[j][i], place[k][i]
    key = (a[0], b[0], a == b, ranks[j][a], ranks[k][b], nbytes)
    hit = memo.get(key)
    if hit is None:
        if a == b:
            hit = _coll("send-recv", nbytes, 2, 2, run.groups[a[0]].accelerator)
        else:
            acc = _link(run, [(a, ranks[j][a]), (b, ranks[k][b])])
            hit = _coll("send-recv", nbytes, 2, 1, acc)
        memo[key] = hit
    return hit


def _reduce_s(run: Any, pl: Any, j: int, nbytes: float, op: str = "all-reduce") -> float:
    """One data-parallel collective of `nbytes` per rank over stage j's replicas x cp (all TP shards
    at once), on the slowest member's link."""
    place, ranks = pl
    n = len(place[j]) * run.cp
    if n < 2 or nbytes <= 0:
        return 0.0
    servers = sorted(set(place[j]))
    one = servers[0]
    if len(servers) == 1 and ranks[j][one] <= run.groups[one[0]].gpus_per_node:  # one server
        return _coll(op, nbytes, n, n, run.groups[one[0]].accelerator)
    per_server = min(Counter(place[j]).values()) * run.cp
    rpn = max(1, min(per_server, min(run.groups[s[0]].gpus_per_node for s in servers)))
    acc = _link(run, [(s, ranks[j][s]) for s in servers])
    return _coll(op, nbytes, n, min(rpn, n), acc)


def unfused_s(acc: Accelerator, hc: HeteroCalibration, b: Any, model: Any) -> Any:
    """Seconds per layer per micro-batch of the unfused-kernel traffic (`layer_bytes_per_token`)."""
    rate = max(acc.hbm_bw_bytes_per_s, 1.0) * acc.software_efficiency.memory_bw
    return hc.layer_bytes_per_token * b * model.seq_len / rate


def _terms_of(run: Any, cal: Calibration) -> dict[tuple[int, int], dict[str, float]]:
    """`kind_terms` of every (group, tp) the run uses."""
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
                    cp=run.cp,
                )
    return terms


def _sends(run: Any, j: int) -> tuple[int, float]:
    """(next stage, transfers per micro-batch) of stage j: vpp chunk boundaries; the last stage hands
    its chunks back to the first (vpp - 1 of them), and sends nothing without interleaving."""
    P, v = len(run.stages), run.vpp
    if j < P - 1:
        return j + 1, float(v)
    return 0, float(v - 1)


def _stage_arrays(run: Any, cal: Calibration, hc: HeteroCalibration) -> dict[str, np.ndarray]:
    """Per (stage, pipeline) time of one micro-batch and memory, arrays of shape [stages, pipelines]."""
    P, D = len(run.stages), run.pipelines
    terms = _terms_of(run, cal)
    pl = _placement(run)
    m = np.array(run.batch_shares) * run.global_batch_size / run.micro_batch_size  # [D]
    act_bytes = (
        run.micro_batch_size * run.model.seq_len * run.model.hidden * element_bytes(run.precision)
    ) / run.cp
    gbytes = grad_reduce_bytes(run.precision, cal, hc)
    tied = bool(run.model.tied_embeddings)
    dp_shard = D * run.cp if run.distributed_optimizer else 1
    out = {k: np.zeros((P, D)) for k in ("t", "mem", "grads", "opt_s", "hbm", "bwd", "params")}
    memo: dict[Any, float] = {}
    for j, st in enumerate(run.stages):
        first, last = j == 0, j == P - 1
        nxt, sends = _sends(run, j)
        held = in_flight(m, P, run.vpp, j)  # [D] micro-batches of activations stage j holds
        for i, r in enumerate(st.replicas):
            k = terms[r.group, r.tp]
            n = st.layers
            g = run.groups[r.group]
            # sequence parallelism sends each TP rank's 1/tp of the sequence (Megatron's p2p tensor
            # shape is seq / tp with --sequence-parallel); without it every TP rank sends all of it
            nb = act_bytes / (r.tp if run.sequence_parallel else 1)
            p2p = 2.0 * sends * _p2p_s(run, pl, j, nxt, i, nb, memo) if sends else 0.0
            unf = (
                0.0
                if run.fused_kernels
                else unfused_s(g.accelerator, hc, run.micro_batch_size, run.model)
            )
            t = (
                n * (k["layer_s"] + unf)
                + cal.microbatch_overhead_s
                + (k["head_s"] if last else 0.0)
                + p2p
            )
            # the 1- and 2-layer copies hold both ends on one stage: one end's states are half of them
            # untied, all of them tied (each end then keeps its own copy of the shared matrix)
            ends = (first + last) if P > 1 else 1
            share = (1.0 if tied else 0.5) if P > 1 else 1.0
            st_end = share * ends * (k["end_weights"] + k["end_grads"] + k["end_opt"] / dp_shard)
            states = (
                n * (k["layer_weights"] + k["layer_grads"] + k["layer_opt"] / dp_shard) + st_end
            )
            acts = n * k["layer_act"] * float(held[i]) + (k["end_act"] if last else 0.0)
            params = n * k["layer_params"] + share * ends * k["end_params"]
            out["t"][j, i] = t
            out["bwd"][j, i] = (1.0 - 1.0 / 3.0) * (t - p2p)
            out["mem"][j, i] = states + acts + k["buffers"]
            out["params"][j, i] = params
            out["grads"][j, i] = params * gbytes
            out["opt_s"][j, i] = (n * k["opt_layer_s"] + share * ends * k["opt_end_s"]) / dp_shard
            out["hbm"][j, i] = g.accelerator.hbm_bytes * (1.0 - cal.allocator_margin)
    out["m"] = m
    out["place"] = pl  # type: ignore[assignment]
    return out


def _dp_exposed(run: Any, a: dict[str, Any], j: int, ipipe: int) -> float:
    """Exposed gradient reduction of stage j. With `overlap_grad_reduce` the homogeneous model's
    bucketed overlap (`perf.exposed.ddp_exposed_s`) behind the stage's own last backward; without it
    (the DeepSpeed pipeline engine) the all-reduce starts after the stage's last backward and hides
    only behind the earlier stages' draining backward."""
    place = a["place"]
    grads = float(a["grads"][j].max())
    if not run.overlap_grad_reduce:
        ar = _reduce_s(run, place, j, grads)
        return max(0.0, ar - float(a["bwd"][:j, ipipe].sum()))
    dist = bool(run.distributed_optimizer)
    params = float(a["params"][j].max())
    ag_bytes = params * PARAM_GATHER_BYTES.get(run.precision, element_bytes(run.precision))
    t_ar = 0.0 if dist else _reduce_s(run, place, j, grads)
    t_rs = _reduce_s(run, place, j, grads, "reduce-scatter") if dist else 0.0
    t_ag = _reduce_s(run, place, j, ag_bytes, "all-gather") if dist else 0.0
    bwd = float(a["bwd"][j, ipipe])
    fwd = bwd / 2.0
    ov = replace(DEFAULT_OVERLAP, dp_overlap=True)
    return float(ddp_exposed_s(t_ar, t_rs, t_ag, dist, ov, params, bwd_window=bwd, fwd_window=fwd))


def _compose(
    run: Any, a: dict[str, Any], cal: Calibration, hc: HeteroCalibration
) -> dict[str, Any]:
    """Pipeline, data-parallel and optimizer composition of the per-stage arrays."""
    t, m = a["t"], a["m"]
    P = t.shape[0]
    slow = t.max(axis=0)  # [D] slowest stage of each pipeline
    # 1F1B: m x slowest + fill/drain of the other stages; interleaved: the bubble divides by vpp
    # (Narayanan et al. 2021 sec. 2.2.2, as `perf.step`)
    pipe = m * slow + (t.sum(axis=0) - slow) / run.vpp
    ipipe = int(np.argmax(pipe))
    dp_exposed = np.array([_dp_exposed(run, a, j, ipipe) for j in range(P)])
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
        peak(run.groups[r.group].accelerator) * r.tp * run.cp
        for st in run.stages
        for r in st.replicas
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

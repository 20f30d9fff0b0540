"""Heterogeneous search: one job over a mixed fleet (`wanka search --accelerator v100-sxm:12,t4:4`).

Two plan families are scored as numpy arrays over every candidate, from the per-(kind, tp, micro-batch,
recompute) terms of `perf.hetero.kind_terms` (the homogeneous step model on each chip):

* chain: the pipeline runs over the kinds in turn (stage placement: which kind holds the first stages),
  p_k stages of tp_k chips on kind k, D data-parallel pipelines; layers split so that the stages of the
  two kinds take equal time (the last stage also carries the head);
* replicas: every kind runs whole pipelines of the same p stages and tp, the gradient all-reduce crosses
  kinds, and each kind's pipelines get batch shares that make them finish together.

The best few candidates of each family are built as `HeteroRunSpec`s and re-evaluated by
`perf.hetero.predict_hetero` (the single-plan path); the answer's figures are that function's.
References, computed with the same model in the same run: each kind alone (its best single-kind
pipeline plan; the best of them is the best homogeneous subset, their sum the sum-of-parts bound) and
the naive equal split (layers spread evenly over all stages, equal batch shares).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np

from wanka.catalogs import get_accelerator
from wanka.errors import ConfigError, WankaError
from wanka.hardware import Accelerator
from wanka.perf.comm import collective_s
from wanka.perf.hetero import (
    element_bytes,
    grad_reduce_bytes,
    kind_terms,
    predict_hetero,
    unfused_s,
)
from wanka.perf.params import default_calibration, default_hetero_calibration
from wanka.spec_hetero import Group, HeteroRunSpec, Replica, Stage

__all__ = ["Kind", "parse_fleet", "search_hetero"]

TPS = (1, 2, 4, 8)
MBS = (1, 2, 4)
RECOMPUTE = ("none", "full")
CONFIRM = 6  # candidates per family re-evaluated by predict_hetero
#: pipeline depths tried per kind (every depth up to 8, then the usual Megatron choices)
DEPTHS = (1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 18, 20, 24, 28, 32, 40, 48, 56, 64)


@dataclass(frozen=True, slots=True)
class Kind:
    acc: Accelerator
    count: int
    gpus_per_node: int


def parse_fleet(text: str) -> list[Kind]:
    """`kind:count,kind:count` -> kinds; a typo names the nearest catalog id."""
    kinds: list[Kind] = []
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        name, sep, num = part.partition(":")
        if not sep or not num.strip().isdigit() or int(num) <= 0:
            raise ConfigError(
                f"--accelerator {part!r}: give kind:count with a positive count, "
                f"e.g. v100-sxm:12,t4:4"
            )
        acc = get_accelerator(name.strip())
        if any(k.acc.id == acc.id for k in kinds):
            raise ConfigError(f"--accelerator names {acc.id} twice; give each kind once")
        kinds.append(Kind(acc=acc, count=int(num), gpus_per_node=acc.gpus_per_node))
    if not kinds:
        raise ConfigError("--accelerator: give at least one kind:count")
    return kinds


def _terms(model: Any, kinds: list[Kind], precision: str, G: int) -> dict[str, np.ndarray]:
    """Arrays [kind, tp, mbs, recompute] of per-layer/end terms; NaN where a tp/mbs is not valid."""
    cal = default_calibration()
    shape = (len(kinds), len(TPS), len(MBS), len(RECOMPUTE))
    names: tuple[str, ...] = (
        "layer_s",
        "head_s",
        "layer_weights",
        "layer_grads",
        "layer_opt",
        "layer_act",
    )
    names += ("end_weights", "end_grads", "end_opt", "end_act", "buffers", "layer_params")
    out = {n: np.full(shape, np.nan) for n in names}
    for (k, kind), (i, tp), (j, b), (r, rc) in product(
        enumerate(kinds), enumerate(TPS), enumerate(MBS), enumerate(RECOMPUTE)
    ):
        if model.heads % tp or tp > kind.gpus_per_node or tp > kind.count or G % b:
            continue
        try:
            t = kind_terms(
                model,
                kind.acc,
                tp,
                gpus_per_node=kind.gpus_per_node,
                b=b,
                precision=precision,
                recompute=rc,
                sequence_parallel=tp > 1,
                cal=cal,
            )
        except WankaError:
            continue
        for n in names:
            out[n][k, i, j, r] = t[n]
    out["overhead"] = np.full(shape, cal.microbatch_overhead_s + 0.0)
    return out


def _p2p(kinds: list[Kind], model: Any, precision: str) -> np.ndarray:
    """[kind, mbs] seconds to send one activation forward and its gradient back across servers."""
    out = np.zeros((len(kinds), len(MBS)))
    for k, kind in enumerate(kinds):
        nbytes = (
            np.array(MBS, dtype=float) * model.seq_len * model.hidden * element_bytes(precision)
        )
        out[k] = 2.0 * collective_s("send-recv", nbytes, 2.0 * np.ones(3), np.ones(3), kind.acc)
    return out


def _allreduce(kind: Accelerator, nbytes: np.ndarray, ranks: np.ndarray, rpn: Any) -> np.ndarray:
    return collective_s("all-reduce", nbytes, ranks, np.minimum(rpn, ranks), kind)


def _depths(layers: int, count: int) -> np.ndarray:
    return np.array([p for p in DEPTHS if p <= min(layers, count)])


def _divisor_floor(M: int, limit: int) -> np.ndarray:
    """For every D in 0..limit the largest divisor of M that is <= D (0 for D = 0)."""
    divs = np.array([d for d in range(1, min(M, limit) + 1) if M % d == 0] or [1])
    idx = np.searchsorted(divs, np.arange(limit + 1), side="right") - 1
    return np.where(idx >= 0, divs[np.maximum(idx, 0)], 0)


@dataclass(frozen=True, slots=True)
class _Ctx:
    model: Any
    kinds: list[Kind]
    G: int
    precision: str
    T: dict[str, np.ndarray]
    p2p: np.ndarray
    grad_bytes: float
    unfused: np.ndarray
    """[kind, mbs] seconds per layer per micro-batch of unfused-kernel traffic (perf.hetero.unfused_s)."""
    margin: float
    step_overhead: float


def _term(c: _Ctx, name: str, k: Any, i: Any, j: Any, r: Any) -> np.ndarray:
    return c.T[name][k, i, j, r]


def _stage_mem(
    c: _Ctx, k: Any, i: Any, j: Any, r: Any, n: Any, in_flight: Any, shard: Any, ends: Any
) -> np.ndarray:
    """Peak bytes of one stage replica: n layers, `ends` end copies (embedding / head)."""
    g = (
        _term(c, "layer_weights", k, i, j, r)
        + _term(c, "layer_grads", k, i, j, r)
        + _term(c, "layer_opt", k, i, j, r) / shard
    )
    e = (
        _term(c, "end_weights", k, i, j, r)
        + _term(c, "end_grads", k, i, j, r)
        + _term(c, "end_opt", k, i, j, r) / shard
    )
    act = n * _term(c, "layer_act", k, i, j, r) * in_flight
    return n * g + ends * e + act + _term(c, "buffers", k, i, j, r)


def _dp_s(c: _Ctx, k: int, n: Any, i: Any, j: Any, r: Any, ranks: Any, acc: Accelerator) -> Any:
    grads = n * _term(c, "layer_params", k, i, j, r)
    rpn = np.maximum(1, c.kinds[k].gpus_per_node // np.array(TPS)[i])
    return _allreduce(acc, grads * c.grad_bytes, np.asarray(ranks, dtype=float), rpn)


def _chain(c: _Ctx, a: int, b: int | None, equal: bool) -> dict[str, np.ndarray]:
    """Pipeline over kind a then kind b (b None: kind a alone), every candidate as array rows."""
    L = c.model.layers
    ka, kb = c.kinds[a], c.kinds[b if b is not None else a]
    grids = np.meshgrid(
        _depths(L, ka.count),
        np.zeros(1, dtype=int) if b is None else _depths(L, kb.count),
        np.arange(len(TPS)),
        np.arange(len(TPS)) if b is not None else np.zeros(1, dtype=int),
        np.arange(len(MBS)),
        np.arange(len(RECOMPUTE)),
        indexing="ij",
    )
    P1, P2, i1, i2, j, r = (x.ravel() for x in grids)
    kb_i = b if b is not None else a
    i2 = np.where(P2 > 0, i2, i1)
    tp1, tp2 = np.array(TPS)[i1], np.array(TPS)[i2]
    t1 = _term(c, "layer_s", a, i1, j, r) + c.unfused[a, j]
    t2 = _term(c, "layer_s", kb_i, i2, j, r) + c.unfused[kb_i, j]
    h1, h2 = _term(c, "head_s", a, i1, j, r), _term(c, "head_s", kb_i, i2, j, r)
    bsz = np.array(MBS)[j]
    dmax = np.minimum(
        ka.count // (tp1 * P1), np.where(P2 > 0, kb.count // (tp2 * np.maximum(P2, 1)), 10**9)
    )
    D = np.zeros_like(dmax)
    for jj, bb in enumerate(MBS):
        if c.G % bb == 0:
            table = _divisor_floor(c.G // bb, int(max(1, dmax.max())))
            D = np.where(j == jj, table[np.clip(dmax, 0, len(table) - 1)], D)
    m = c.G / (bsz * np.maximum(D, 1))
    P = P1 + P2
    if b is None:
        n1 = np.ceil(L / P1)
        tau1 = n1 * t1 + c.p2p[a, j]
        tau_last = np.floor(L / P1) * t1 + h1
        tau = np.maximum(tau1, tau_last)
        total = L * t1 + h1 + P1 * c.p2p[a, j]
        rem = np.zeros_like(n1)
        n2 = np.zeros_like(n1)
    else:
        n1 = (L * t2 / np.maximum(P2, 1) + h2) / (t1 + P1 * t2 / np.maximum(P2, 1))
        n1 = np.round(L / P) if equal else np.round(n1)
        n1 = np.clip(n1, 1, np.floor((L - P2) / P1))
        rem = L - P1 * n1
        n2 = np.ceil(rem / np.maximum(P2, 1))
        link = np.maximum(c.p2p[a, j], c.p2p[kb_i, j])
        tau1 = n1 * t1 + c.p2p[a, j]
        tau = np.maximum(tau1, n2 * t2 + h2 + c.p2p[kb_i, j])
        total = P1 * n1 * t1 + rem * t2 + h2 + (P - 1) * link
    ovh = _term(c, "overhead", a, i1, j, r)
    pipe = total + P * ovh + (m - 1.0) * (tau + ovh)
    dp = np.maximum(_dp_s(c, a, n1, i1, j, r, D, ka.acc), _dp_s(c, kb_i, n2, i2, j, r, D, kb.acc))
    step = pipe + dp + c.step_overhead
    shard = np.maximum(D, 1)
    tied = 1.0 if c.model.tied_embeddings else 0.5
    mem_a = _stage_mem(c, a, i1, j, r, n1, np.minimum(m, P), shard, tied * (1 + (P == 1)))
    hbm_a = ka.acc.hbm_bytes * (1 - c.margin)
    fits = mem_a <= hbm_a
    if b is not None:
        mem_b = _stage_mem(c, b, i2, j, r, n2, np.minimum(m, P2), shard, tied)
        mem_b = mem_b + _term(c, "end_act", b, i2, j, r)
        fits &= mem_b <= kb.acc.hbm_bytes * (1 - c.margin)
    ok = (D >= 1) & np.isfinite(step) & fits & (rem >= P2)
    return {
        "step": np.where(ok, step, np.inf),
        "P1": P1,
        "P2": P2,
        "tp1": tp1,
        "tp2": tp2,
        "b": bsz,
        "r": r,
        "D": D,
        "n1": n1,
    }


def _replicas(c: _Ctx, equal: bool) -> dict[str, np.ndarray]:
    """Every kind runs whole pipelines (same p stages, same tp); shares balance their finish times."""
    L, K = c.model.layers, len(c.kinds)
    grids = np.meshgrid(
        _depths(L, max(k.count for k in c.kinds)),
        np.arange(len(TPS)),
        np.arange(len(MBS)),
        np.arange(len(RECOMPUTE)),
        indexing="ij",
    )
    P, i, j, r = (x.ravel() for x in grids)
    tp, bsz = np.array(TPS)[i], np.array(MBS)[j]
    M = c.G / bsz
    d = np.stack([k.count // (tp * P) for k in c.kinds])  # [K, N] pipelines per kind
    n = np.ceil(L / P)
    tau = np.stack(
        [
            np.maximum(
                n * (_term(c, "layer_s", k, i, j, r) + c.unfused[k, j]),
                np.floor(L / P) * (_term(c, "layer_s", k, i, j, r) + c.unfused[k, j])
                + _term(c, "head_s", k, i, j, r),
            )
            + c.p2p[k, j]
            + _term(c, "overhead", k, i, j, r)
            for k in range(K)
        ]
    )
    dsum = d.sum(axis=0)
    if equal:
        mk = np.broadcast_to(M / np.maximum(dsum, 1), d.shape)
        pipe = np.max(np.where(d > 0, (mk + P - 1) * tau, 0.0), axis=0)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            pipe = (M + dsum * (P - 1)) / np.sum(np.where(d > 0, d / tau, 0.0), axis=0)
        mk = pipe / tau - P + 1
    slow = int(np.argmin([k.acc.scaleout_bw_bytes_per_s for k in c.kinds]))
    dp = _dp_s(c, slow, n, i, j, r, dsum, c.kinds[slow].acc)
    step = pipe + dp + c.step_overhead
    tied = 1.0 if c.model.tied_embeddings else 0.5
    fits = np.ones_like(step, dtype=bool)
    for k, kind in enumerate(c.kinds):
        mem = _stage_mem(c, k, i, j, r, n, np.minimum(mk[k], P), np.maximum(dsum, 1), tied)
        fits &= (d[k] == 0) | (mem <= kind.acc.hbm_bytes * (1 - c.margin))
    ok = np.all(d >= 1, axis=0) & np.all((mk >= 1) | (d == 0), axis=0) & fits & np.isfinite(step)
    return {
        "step": np.where(ok, step, np.inf),
        "P": P,
        "tp": tp,
        "b": bsz,
        "r": r,
        "d": d,
        "mk": mk,
    }


def _groups(c: _Ctx) -> tuple[Group, ...]:
    return tuple(
        Group(
            name=k.acc.id,
            accelerator=k.acc,
            count=k.count,
            gpus_per_node=k.gpus_per_node,
            node_scale_out_bytes_per_s=k.acc.scaleout_bw_bytes_per_s * k.gpus_per_node,
        )
        for k in c.kinds
    )


def _spec(c: _Ctx, stages: list[Stage], shares: tuple[float, ...], b: int, r: int) -> HeteroRunSpec:
    return HeteroRunSpec(
        id=None,
        model=c.model,
        groups=_groups(c),
        stages=tuple(stages),
        batch_shares=shares,
        micro_batch_size=int(b),
        global_batch_size=c.G,
        precision=c.precision,
        recompute=RECOMPUTE[int(r)],
        sequence_parallel=True,
        distributed_optimizer=True,
    )


def _split(total: int, parts: int) -> list[int]:
    """`total` layers over `parts` stages, the extra ones on the first stages (the last has the head)."""
    base, extra = divmod(total, parts)
    return [base + (1 if s < extra else 0) for s in range(parts)]


def _chain_spec(c: _Ctx, a: int, b: int | None, row: dict[str, Any]) -> HeteroRunSpec:
    P1, P2, D = int(row["P1"]), int(row["P2"]), int(row["D"])
    L = c.model.layers
    if b is None:
        layers = _split(L, P1)
        kinds = [a] * P1
    else:
        n1 = int(row["n1"])
        layers = [n1] * P1 + _split(L - P1 * n1, P2)
        kinds = [a] * P1 + [b] * P2
    tps = [int(row["tp1"])] * P1 + [int(row["tp2"])] * P2
    stages = [
        Stage(layers=n, replicas=(Replica(group=k, tp=t),) * D)
        for n, k, t in zip(layers, kinds, tps, strict=True)
    ]
    return _spec(c, stages, (1.0 / D,) * D, row["b"], row["r"])


def _replica_spec(c: _Ctx, row: dict[str, Any]) -> HeteroRunSpec:
    P, tp, b = int(row["P"]), int(row["tp"]), int(row["b"])
    M = c.G // b
    d = [int(x) for x in row["d"]]
    mk = np.asarray(row["mk"], dtype=float)
    counts = [max(1, int(np.floor(mk[k]))) if d[k] else 0 for k in range(len(d))]
    pipes = [k for k in range(len(d)) for _ in range(d[k])]
    per = [counts[k] for k in pipes]
    short = M - sum(per)
    order = sorted(range(len(pipes)), key=lambda p: -(mk[pipes[p]] - counts[pipes[p]]))
    q = 0
    while short != 0 and order:  # hand out (or take back) whole micro-batches, fastest kinds first
        p = order[q % len(order)]
        step = 1 if short > 0 else -1
        if per[p] + step >= 1:
            per[p] += step
            short -= step
        q += 1
    shares = tuple(x / M for x in per)
    stages = [
        Stage(layers=n, replicas=tuple(Replica(group=k, tp=tp) for k in pipes))
        for n in _split(c.model.layers, P)
    ]
    return _spec(c, stages, shares, b, row["r"])


def _best(c: _Ctx, scored: list[tuple[dict[str, np.ndarray], Any]]) -> tuple[Any, int]:
    """Re-evaluate the best rows of each scored family with predict_hetero; best fitting result."""
    best, n = None, 0
    for arrays, build in scored:
        step = arrays["step"]
        for idx in np.argsort(step)[:CONFIRM]:
            if not np.isfinite(step[idx]):
                break
            row = {k: (v[:, idx] if v.ndim == 2 else v[idx]) for k, v in arrays.items()}
            spec = build(row)
            out = predict_hetero(spec)
            n += 1
            if out["fits"] and (best is None or out["tokens_per_s"] > best[0]["tokens_per_s"]):
                best = (out, spec)
    return best, n


def plan_dict(spec: HeteroRunSpec) -> dict[str, Any]:
    """A heterogeneous plan as run-spec fields (`hardware` groups + `parallelism.stages`)."""
    stages: list[dict[str, Any]] = []
    for st in spec.stages:
        reps = st.replicas
        if len({(r.group, r.tp) for r in reps}) == 1 and len(set(spec.batch_shares)) == 1:
            g = spec.groups[reps[0].group].name
            stages.append({"group": g, "layers": st.layers, "tp": reps[0].tp, "dp": len(reps)})
        else:
            stages.append(
                {
                    "layers": st.layers,
                    "replicas": [
                        {"group": spec.groups[r.group].name, "tp": r.tp, "batch_share": round(s, 6)}
                        for r, s in zip(reps, spec.batch_shares, strict=True)
                    ],
                }
            )
    return {
        "hardware": [
            {
                "name": g.name,
                "accelerator": g.accelerator.id,
                "count": g.count,
                "gpus_per_node": g.gpus_per_node,
            }
            for g in spec.groups
        ],
        "parallelism": {
            "micro_batch_size": spec.micro_batch_size,
            "global_batch_size": spec.global_batch_size,
            "recompute": spec.recompute,
            "distributed_optimizer": spec.distributed_optimizer,
            "sequence_parallel": spec.sequence_parallel,
            "stages": stages,
        },
        "precision": spec.precision,
    }


def _answer(res: tuple[dict[str, Any], HeteroRunSpec], family: str) -> dict[str, Any]:
    out, spec = res
    best = {k: v for k, v in out.items() if k != "assumptions"}
    best["count"] = spec.count
    best["accelerators"] = {
        g.accelerator.id: sum(r.tp for s in spec.stages for r in s.replicas if r.group == i)
        for i, g in enumerate(spec.groups)
    }
    best["family"] = family
    best["plan"] = plan_dict(spec)
    return best


def search_hetero(
    model: Any, kinds: list[Kind], *, global_batch_size: int, precision: str = "bf16"
) -> dict[str, Any]:
    """Best plan for one job on a mixed fleet, with its references (module docstring)."""
    t0 = time.perf_counter()
    cal, hc = default_calibration(), default_hetero_calibration()
    G = int(global_batch_size)
    c = _Ctx(
        model=model,
        kinds=kinds,
        G=G,
        precision=precision,
        T=_terms(model, kinds, precision, G),
        p2p=_p2p(kinds, model, precision),
        grad_bytes=grad_reduce_bytes(precision, cal, hc),
        unfused=np.array(
            [[unfused_s(k.acc, hc, b, model) for b in MBS] for k in kinds], dtype=float
        ),
        margin=cal.allocator_margin,
        step_overhead=cal.step_overhead_s,
    )
    alone, evaluated, confirmed = [], 0, 0
    for a in range(len(kinds)):
        arr = _chain(c, a, None, equal=False)
        evaluated += arr["step"].size
        res, n = _best(c, [(arr, lambda row, a=a: _chain_spec(c, a, None, row))])
        alone.append(res)
        confirmed += n
    mixed: list[Any] = []
    naive: list[Any] = []
    if len(kinds) >= 2:
        pairs = [(0, 1), (1, 0)] if len(kinds) == 2 else []
        for equal, bucket in ((False, mixed), (True, naive)):
            for a, b in pairs:
                arr = _chain(c, a, b, equal=equal)
                bucket.append((arr, lambda row, a=a, b=b: _chain_spec(c, a, b, row)))
            bucket.append((_replicas(c, equal=equal), lambda row: _replica_spec(c, row)))
            evaluated += sum(x["step"].size for x, _ in bucket)
    best_mixed, n1 = _best(c, mixed)
    best_naive, n2 = _best(c, naive)
    confirmed += n1 + n2
    homo = [(r[0]["tokens_per_s"] if r else 0.0) for r in alone]
    candidates = [(r, "single kind") for r in alone if r] + (
        [(best_mixed, "mixed")] if best_mixed else []
    )
    if not candidates:
        raise ConfigError(
            "no plan fits: every layout exceeds some chip's memory; add chips, raise the global "
            "batch's divisibility or pick a smaller model"
        )
    top = max(candidates, key=lambda x: x[0][0]["tokens_per_s"])
    best = _answer(top[0], top[1])
    sop = float(sum(homo))
    best_homo = max(homo)
    eq = best_naive[0]["tokens_per_s"] if best_naive else None
    return {
        "model": model.name,
        "fleet": [{"accelerator": k.acc.id, "count": k.count} for k in kinds],
        "global_batch_size": G,
        "seq_len": model.seq_len,
        "precision": precision,
        "best": best,
        "best_mixed": _answer(best_mixed, "mixed") if best_mixed else None,
        "references": {
            "best_homogeneous_tokens_per_s": best_homo,
            "best_homogeneous_accelerator": kinds[int(np.argmax(homo))].acc.id,
            "per_kind_alone_tokens_per_s": {k.acc.id: h for k, h in zip(kinds, homo, strict=True)},
            "sum_of_parts_tokens_per_s": sop,
            "equal_split_tokens_per_s": eq,
        },
        "sum_of_parts_efficiency": best["tokens_per_s"] / sop if sop else None,
        "speedup_vs_best_homogeneous": best["tokens_per_s"] / best_homo if best_homo else None,
        "speedup_vs_equal_split": best["tokens_per_s"] / eq if eq else None,
        "evaluated": int(evaluated),
        "confirmed_by_predict": int(confirmed),
        "seconds": time.perf_counter() - t0,
    }

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
from dataclasses import dataclass, replace
from itertools import product
from typing import Any

import numpy as np

from wanka.catalogs import get_accelerator
from wanka.errors import ConfigError, WankaError
from wanka.hardware import Accelerator
from wanka.perf.comm import collective_s
from wanka.perf.exposed import ddp_exposed_s
from wanka.perf.hetero import element_bytes, grad_reduce_bytes, kind_terms_many, predict_hetero
from wanka.perf.memory import in_flight
from wanka.perf.params import DEFAULT_OVERLAP, default_calibration, default_hetero_calibration
from wanka.search.hetero_answer import answer
from wanka.spec_hetero import Group, HeteroRunSpec, Replica, Stage

__all__ = ["Kind", "parse_fleet", "search_hetero"]

TPS = (1, 2, 4, 8)
CPS = (1, 2, 4)
#: tokens per replica and micro-batch above this many sequences add nothing the others lack
MAX_CP_MB = 4
MBS = (1, 2, 4)
VPPS = (1, 2, 4, 8, 16)
RECOMPUTE = ("none", "selective", "full")
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


#: the (cp, micro-batch) pairs searched: one axis, as the step model sees cp x b tokens per replica
CM = tuple((cp, b) for cp in CPS for b in MBS if cp * b <= MAX_CP_MB)
CP_OF = np.array([x[0] for x in CM])
MB_OF = np.array([x[1] for x in CM])


def _terms(model: Any, kinds: list[Kind], precision: str, G: int) -> dict[str, np.ndarray]:
    """Arrays [kind, tp, (cp, mbs), recompute] of per-layer/end terms; NaN where a layout is not valid."""
    cal = default_calibration()
    shape = (len(kinds), len(TPS), len(CM), len(RECOMPUTE))
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
    for (k, kind), (i, tp), (j, (cp, b)) in product(
        enumerate(kinds), enumerate(TPS), enumerate(CM)
    ):
        if model.heads % tp or tp > kind.gpus_per_node or tp * cp > kind.count or G % b:
            continue
        if cp > 1 and model.seq_len % (2 * cp):
            continue
        try:
            rows = kind_terms_many(
                model,
                kind.acc,
                tp,
                gpus_per_node=kind.gpus_per_node,
                b=b,
                precision=precision,
                recomputes=RECOMPUTE,
                sequence_parallel=tp > 1,
                cal=cal,
                cp=cp,
            )
        except WankaError:
            continue
        for r, t in enumerate(rows):
            for n in names:
                out[n][k, i, j, r] = t[n]
    out["overhead"] = np.full(shape, cal.microbatch_overhead_s + 0.0)
    return out


def _p2p(kinds: list[Kind], model: Any, precision: str) -> np.ndarray:
    """[kind, tp, (cp, mbs)] seconds to send one activation forward and its gradient back across
    servers; with sequence parallelism (tp > 1) each rank sends 1/(tp cp) of it (`perf.hetero`)."""
    out = np.zeros((len(kinds), len(TPS), len(CM)))
    for k, kind in enumerate(kinds):
        for i, tp in enumerate(TPS):
            nbytes = MB_OF * model.seq_len * model.hidden * element_bytes(precision) / (tp * CP_OF)
            ones = np.ones(len(CM))
            out[k, i] = 2.0 * collective_s("send-recv", nbytes, 2.0 * ones, ones, kind.acc)
    return out


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
    """[kind, (cp, mbs)] seconds per layer per micro-batch of unfused-kernel traffic; zero here, since
    the search plans fused-kernel (Megatron-Core) jobs like the homogeneous search."""
    margin: float
    step_overhead: float


def _term(c: _Ctx, name: str, k: Any, i: Any, j: Any, r: Any) -> np.ndarray:
    return _tk(c, name, _flat(c, k, i, j, r))


def _flat(c: _Ctx, k: Any, i: Any, j: Any, r: Any) -> np.ndarray:
    """Flat index of (kind, tp, (cp, mbs), recompute) into the term arrays (one take per term)."""
    out: np.ndarray = np.ravel_multi_index((k, i, j, r), c.T["layer_s"].shape)
    return out


def _tk(c: _Ctx, name: str, f: Any) -> np.ndarray:
    return c.T[name].reshape(-1).take(f)


def _stage_mem(c: _Ctx, f: Any, n: Any, held: Any, shard: Any, ends: Any) -> np.ndarray:
    """Peak bytes of one stage replica (terms at flat index f): n layers, `ends` end copies
    (embedding / head), `held` micro-batches of activations (`perf.memory.in_flight`)."""
    g = _tk(c, "layer_weights", f) + _tk(c, "layer_grads", f) + _tk(c, "layer_opt", f) / shard
    e = _tk(c, "end_weights", f) + _tk(c, "end_grads", f) + _tk(c, "end_opt", f) / shard
    act = n * _tk(c, "layer_act", f) * held
    return n * g + ends * e + act + _tk(c, "buffers", f)


def _dp_s(c: _Ctx, k: int, f: Any, n: Any, i: Any, j: Any, ranks: Any, bwd: Any) -> Any:
    """Exposed gradient reduce-scatter + parameter all-gather of a stage of n layers on kind k over
    `ranks` pipelines x cp (distributed optimizer, Megatron's overlap: `perf.exposed.ddp_exposed_s`)."""
    params = n * _tk(c, "layer_params", f)
    group = np.asarray(ranks, dtype=float) * CP_OF[j]
    rpn = np.minimum(np.maximum(1, c.kinds[k].gpus_per_node // np.array(TPS)[i]), group)
    acc = c.kinds[k].acc
    t_rs = collective_s("reduce-scatter", params * c.grad_bytes, group, rpn, acc)
    t_ag = collective_s("all-gather", params * element_bytes(c.precision), group, rpn, acc)
    ov = replace(DEFAULT_OVERLAP, dp_overlap=True)
    return ddp_exposed_s(0.0, t_rs, t_ag, True, ov, params, bwd_window=bwd, fwd_window=bwd / 2)


def _add_dp(pre: np.ndarray, ok: np.ndarray, dp: Any, chunk: int = 8192) -> np.ndarray:
    """Step times: `pre` (everything but the exposed gradient traffic, a lower bound) plus `dp(rows)`,
    priced only on the rows that can still be among the CONFIRM best (exact: rows are taken in
    order of `pre`, and stop once the next `pre` exceeds the CONFIRM-th best full step)."""
    step = np.full(pre.shape, np.inf)
    rows = np.flatnonzero(ok)
    rows = rows[np.argsort(pre[rows], kind="stable")]
    thr, done = np.inf, 0
    while done < len(rows) and pre[rows[done]] < thr:
        sel = rows[done : done + chunk]
        step[sel] = pre[sel] + dp(sel)
        done += len(sel)
        fin = step[rows[:done]]
        if len(fin) >= CONFIRM:
            thr = float(np.partition(fin, CONFIRM - 1)[CONFIRM - 1])
    return step


Rows = dict[str, np.ndarray]


def _take(g: Rows, idx: np.ndarray) -> Rows:
    return {k: v[idx] for k, v in g.items()}


def _chain_grid(c: _Ctx, a: int, b: int | None) -> tuple[Rows, int]:
    """Every structurally valid (placement, tp, cp, mbs, recompute, vpp) of a chain, as rows."""
    L = c.model.layers
    ka, kb = c.kinds[a], c.kinds[b if b is not None else a]
    grids = np.meshgrid(
        _depths(L, ka.count),
        np.zeros(1, dtype=int) if b is None else _depths(L, kb.count),
        np.arange(len(TPS)),
        np.arange(len(TPS)) if b is not None else np.zeros(1, dtype=int),
        np.arange(len(CM)),
        indexing="ij",
    )
    P1, P2, i1, i2, j = (x.ravel() for x in grids)
    kb_i = b if b is not None else a
    i2 = np.where(P2 > 0, i2, i1)
    tp1, tp2, cp = np.array(TPS)[i1], np.array(TPS)[i2], CP_OF[j]
    dmax = np.minimum(
        ka.count // (tp1 * cp * P1),
        np.where(P2 > 0, kb.count // (tp2 * cp * np.maximum(P2, 1)), 10**9),
    )
    D = np.zeros_like(dmax)
    for jj, bb in enumerate(MB_OF):
        if c.G % bb == 0:
            table = _divisor_floor(c.G // int(bb), int(max(1, dmax.max())))
            D = np.where(j == jj, table[np.clip(dmax, 0, len(table) - 1)], D)
    valid = np.isfinite(c.T["layer_s"][:, :, :, 0])  # [kind, tp, (cp, mbs)]: the layout exists
    P = P1 + P2
    rows = len(P) * len(RECOMPUTE) * len(VPPS)
    # structurally valid (placement, tp, cp, mbs) first, then every recompute and vpp of those
    base = np.flatnonzero((D >= 1) & valid[a, i1, j] & valid[kb_i, i2, j])
    vv = np.array(VPPS)
    Pb = P[base, None, None]
    ok_v = ((vv == 1) | (Pb > 1)) & (L // Pb >= vv)  # [base, 1, vpp]: every stage holds vpp chunks
    pick, r, iv = np.nonzero(np.broadcast_to(ok_v, (len(base), len(RECOMPUTE), len(VPPS))))
    pick = base[pick]
    g = _take({"P1": P1, "P2": P2, "P": P, "i1": i1, "i2": i2, "j": j, "D": D}, pick)
    return {**g, "r": r, "v": vv[iv]}, rows


def _chain_fit(c: _Ctx, a: int, b: int | None, equal: bool, g: Rows) -> Rows:
    """Layers per stage, per-stage times and memory; only the rows whose stages fit."""
    L, kb_i = c.model.layers, b if b is not None else a
    P1, P2, P, i1, i2, j, D, r, v = (
        g[k] for k in ("P1", "P2", "P", "i1", "i2", "j", "D", "r", "v")
    )
    fa, fb = _flat(c, a, i1, j, r), _flat(c, kb_i, i2, j, r)
    t1 = _tk(c, "layer_s", fa) + c.unfused[a, j]
    t2 = _tk(c, "layer_s", fb) + c.unfused[kb_i, j]
    h1, h2 = _tk(c, "head_s", fa), _tk(c, "head_s", fb)
    bsz, cp = MB_OF[j], CP_OF[j]
    m = c.G / (bsz * np.maximum(D, 1))
    if b is None:
        n1 = np.ceil(L / P1)
        rem, n2, low = np.zeros_like(n1), np.zeros_like(n1), np.floor(L / P1)
    else:
        n1 = (L * t2 / np.maximum(P2, 1) + h2) / (t1 + P1 * t2 / np.maximum(P2, 1))
        n1 = np.round(L / P) if equal else np.round(n1)
        n1 = np.clip(n1, 1, np.floor((L - P2) / P1))
        rem = L - P1 * n1
        n2 = np.ceil(rem / np.maximum(P2, 1))
        low = np.minimum(n1, np.floor(rem / np.maximum(P2, 1)))
    shard = np.maximum(D, 1) * cp
    tied = 1.0 if c.model.tied_embeddings else 0.5
    mem_a = _stage_mem(c, fa, n1, in_flight(m, P, v, 0), shard, tied * (1 + (P == 1)))
    ok = mem_a <= c.kinds[a].acc.hbm_bytes * (1 - c.margin)
    if b is not None:
        mem_b = _stage_mem(c, fb, n2, in_flight(m, P, v, P1), shard, tied)
        mem_b = mem_b + _tk(c, "end_act", fb)
        ok &= mem_b <= c.kinds[b].acc.hbm_bytes * (1 - c.margin)
    ok &= (rem >= P2) & (low >= v)
    more = {"fa": fa, "fb": fb, "t1": t1, "t2": t2, "h1": h1, "h2": h2, "m": m}
    return _take({**g, **more, "n1": n1, "n2": n2, "rem": rem}, np.flatnonzero(ok))


def _chain_step(c: _Ctx, a: int, b: int | None, g: Rows) -> np.ndarray:
    """Step time of the fitting rows: interleaved 1F1B pipeline plus exposed gradient reduction."""
    L, kb_i = c.model.layers, b if b is not None else a
    P1, P, i1, i2, j, v, D = (g[k] for k in ("P1", "P", "i1", "i2", "j", "v", "D"))
    t1, t2, h1, h2, n1, n2 = (g[k] for k in ("t1", "t2", "h1", "h2", "n1", "n2"))
    fa, fb = g["fa"], g["fb"]
    pa, pb = c.p2p[a, i1, j] * v, c.p2p[kb_i, i2, j] * v  # vpp chunk boundaries per micro-batch
    if b is None:
        tau = np.maximum(n1 * t1 + pa, np.floor(L / P1) * t1 + h1 + (v - 1) / v * pa)
        total = L * t1 + h1 + P1 * pa
    else:
        tau = np.maximum(n1 * t1 + pa, n2 * t2 + h2 + pb)
        total = P1 * n1 * t1 + g["rem"] * t2 + h2 + P * np.maximum(pa, pb)
    ovh = _tk(c, "overhead", fa)
    tau = tau + ovh
    pipe = (
        g["m"] * tau + (total + P * ovh - tau) / v
    )  # interleaved 1F1B bubble (perf.hetero._compose)
    pre = pipe + c.step_overhead

    def dp(s: np.ndarray) -> np.ndarray:
        return np.maximum(
            _dp_s(c, a, fa[s], n1[s], i1[s], j[s], D[s], n1[s] * t1[s] * 2 / 3),
            _dp_s(c, kb_i, fb[s], n2[s], i2[s], j[s], D[s], n2[s] * t2[s] * 2 / 3),
        )

    return _add_dp(pre, np.isfinite(pre), dp)


def _chain(c: _Ctx, a: int, b: int | None, equal: bool) -> Rows:
    """Pipeline over kind a then kind b (b None: kind a alone), every candidate as array rows."""
    grid, rows = _chain_grid(c, a, b)
    g = _chain_fit(c, a, b, equal, grid)
    return {
        "step": _chain_step(c, a, b, g),
        **{k: g[k] for k in ("P1", "P2")},
        "tp1": np.array(TPS)[g["i1"]],
        "tp2": np.array(TPS)[g["i2"]],
        "b": MB_OF[g["j"]],
        "cp": CP_OF[g["j"]],
        **{k: g[k] for k in ("v", "r", "D", "n1")},
        "rows": np.array([rows]),
    }


def _replicas(c: _Ctx, equal: bool) -> dict[str, np.ndarray]:
    """Every kind runs whole pipelines (same p stages, same tp); shares balance their finish times."""
    L, K = c.model.layers, len(c.kinds)
    grids = np.meshgrid(
        _depths(L, max(k.count for k in c.kinds)),
        np.arange(len(TPS)),
        np.arange(len(CM)),
        np.arange(len(RECOMPUTE)),
        np.array(VPPS),
        indexing="ij",
    )
    P, i, j, r, v = (x.ravel() for x in grids)
    tp, bsz, cp = np.array(TPS)[i], MB_OF[j], CP_OF[j]
    M = c.G / bsz
    d = np.stack([k.count // (tp * cp * P) for k in c.kinds])  # [K, N] pipelines per kind
    n = np.ceil(L / P)
    tk = [_term(c, "layer_s", k, i, j, r) + c.unfused[k, j] for k in range(K)]
    tau = np.stack(
        [
            np.maximum(n * tk[k], np.floor(L / P) * tk[k] + _term(c, "head_s", k, i, j, r))
            + c.p2p[k, i, j] * v
            + _term(c, "overhead", k, i, j, r)
            for k in range(K)
        ]
    )
    fill = (P - 1) / v  # bubble in units of the slowest stage (interleaved 1F1B)
    dsum = d.sum(axis=0)
    if equal:
        mk = np.broadcast_to(M / np.maximum(dsum, 1), d.shape)
        pipe = np.max(np.where(d > 0, (mk + fill) * tau, 0.0), axis=0)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            pipe = (M + dsum * fill) / np.sum(np.where(d > 0, d / tau, 0.0), axis=0)
        mk = pipe / tau - fill
    slow = int(np.argmin([k.acc.scaleout_bw_bytes_per_s for k in c.kinds]))
    pre = pipe + c.step_overhead
    t_slow = tk[slow]

    def dp(s: np.ndarray) -> np.ndarray:
        f = _flat(c, slow, i[s], j[s], r[s])
        return _dp_s(c, slow, f, n[s], i[s], j[s], dsum[s], n[s] * t_slow[s] * 2 / 3)

    tied = 1.0 if c.model.tied_embeddings else 0.5
    fits = np.ones_like(pre, dtype=bool)
    for k, kind in enumerate(c.kinds):
        held = in_flight(np.maximum(mk[k], 1), P, v, 0)
        mem = _stage_mem(c, _flat(c, k, i, j, r), n, held, np.maximum(dsum, 1) * cp, tied)
        fits &= (d[k] == 0) | (mem <= kind.acc.hbm_bytes * (1 - c.margin))
    ok = np.all(d >= 1, axis=0) & np.all((mk >= 1) | (d == 0), axis=0) & fits & np.isfinite(pre)
    ok &= (np.floor(L / P) >= v) & ((v == 1) | (P > 1))
    return {
        "step": _add_dp(pre, ok, dp),
        "P": P,
        "tp": tp,
        "b": bsz,
        "cp": cp,
        "v": v,
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


def _spec(
    c: _Ctx, stages: list[Stage], shares: tuple[float, ...], row: dict[str, Any]
) -> HeteroRunSpec:
    """The candidate as a run spec with the homogeneous search's framework features (Megatron-Core:
    distributed optimizer, sequence parallelism, overlapped gradient reduction, fused kernels)."""
    return HeteroRunSpec(
        id=None,
        model=c.model,
        groups=_groups(c),
        stages=tuple(stages),
        batch_shares=shares,
        micro_batch_size=int(row["b"]),
        global_batch_size=c.G,
        precision=c.precision,
        recompute=RECOMPUTE[int(row["r"])],
        sequence_parallel=True,
        distributed_optimizer=True,
        vpp=int(row["v"]),
        cp=int(row["cp"]),
        overlap_grad_reduce=True,
        fused_kernels=True,
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
    return _spec(c, stages, (1.0 / D,) * D, row)


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
    return _spec(c, stages, shares, row)


def _rows(arrays: dict[str, np.ndarray]) -> int:
    """Candidates a family scored (its grid, before the rows that do not fit were dropped)."""
    return int(arrays["rows"][0]) if "rows" in arrays else int(arrays["step"].size)


def _best(c: _Ctx, scored: list[tuple[dict[str, np.ndarray], Any]]) -> tuple[Any, int]:
    """Re-evaluate the best rows of each scored family with predict_hetero; best fitting result."""
    best, n = None, 0
    for arrays, build in scored:
        step = arrays["step"]
        for idx in np.argsort(step)[:CONFIRM]:
            if not np.isfinite(step[idx]):
                break
            row = {
                k: (v[:, idx] if v.ndim == 2 else v[idx]) for k, v in arrays.items() if k != "rows"
            }
            spec = build(row)
            out = predict_hetero(spec)
            n += 1
            if out["fits"] and (best is None or out["tokens_per_s"] > best[0]["tokens_per_s"]):
                best = (out, spec)
    return best, n


def search_hetero(
    model: Any,
    kinds: list[Kind],
    *,
    global_batch_size: int,
    precision: str = "bf16",
    references: bool = True,
) -> dict[str, Any]:
    """Best plan for one job on a mixed fleet, with its references (module docstring).

    `references=False` skips the homogeneous search on each kind (a caller that has its own
    homogeneous plan, as `plan` does); the kinds alone are then the mixed model's own plans."""
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
        unfused=np.zeros((len(kinds), len(CM))),
        margin=cal.allocator_margin,
        step_overhead=cal.step_overhead_s,
    )
    alone, evaluated, confirmed = [], 0, 0
    for a in range(len(kinds)):
        arr = _chain(c, a, None, equal=False)
        evaluated += _rows(arr)
        res, n = _best(c, [(arr, lambda row, a=a: _chain_spec(c, a, None, row))])
        alone.append(res)
        confirmed += n
    mixed: list[Any] = []
    naive: list[Any] = []
    if len(kinds) >= 2:
        pairs = [(0, 1), (1, 0)] if len(kinds) == 2 else []
        # the naive equal split is a reference only
        families = ((False, mixed), (True, naive)) if references else ((False, mixed),)
        for equal, bucket in families:
            for a, b in pairs:
                arr = _chain(c, a, b, equal=equal)
                bucket.append((arr, lambda row, a=a, b=b: _chain_spec(c, a, b, row)))
            bucket.append((_replicas(c, equal=equal), lambda row: _replica_spec(c, row)))
            evaluated += sum(_rows(x) for x, _ in bucket)
    best_mixed, n1 = _best(c, mixed)
    best_naive, n2 = _best(c, naive)
    confirmed += n1 + n2
    return answer(
        model,
        kinds,
        precision=precision,
        G=G,
        alone=alone,
        best_mixed=best_mixed,
        best_naive=best_naive,
        counts={"evaluated": int(evaluated), "confirmed_by_predict": int(confirmed)},
        t0=t0,
        homogeneous=references,
    )

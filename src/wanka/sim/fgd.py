"""Fragmentation gradient descent (FGD) placement of GPU-sharing tasks, and the paper's test.

Weng et al., "Beware of Fragmentation: Scheduling GPU-Sharing Workloads with Fragmentation
Gradient Descent", USENIX ATC '23; its simulator `hkust-adsl/kubernetes-scheduler-simulator`
(commit 8f3d641, `pkg/utils/frag.go`, `pkg/simulator/plugin/{fgd,best_fit}_score.go`,
`pkg/simulator/simulator.go`). A task asks for CPU (milli-cores), memory (MiB) and either a
fraction of one GPU (`gpu_milli` < 1000), k whole GPUs, or no GPU. For a task type m, the free
GPU capacity of a node that m cannot use is *fragmented* for m:

* m does not fit the node at all (CPU, or GPU capacity): every free GPU milli of the node;
* m fits and asks for a fraction g: the free milli of GPUs with less than g free;
* m fits and asks for whole GPUs: the free milli of partly used GPUs;
* m asks for no GPU: every free GPU milli of the node (m leaves them idle).

A node's fragmentation is the popularity-weighted sum over the workload's *typical* task types
(the most popular (CPU, GPUs, milli) specs that cover 95 % of the tasks, renormalised: the
artifact's `typicalPodsConfig`); FGD puts each task where that sum grows least, choosing the GPU
for a fractional task the same way. `best_fit` is the packing baseline: the node left with the
least free capacity, CPU and GPU weighted equally over the artifact's max specs (128 cores, 8
GPUs), on the GPU left with the least free milli.

Two scorings (`Scorer.artifact`): exact (the lowest change wins, ties to the first node), or the
artifact's (`int(100 sigmoid(-change / 1000))` for FGD, `int(100 (1 - leftover))` min-max
normalised for best fit). Ties go to the first node in both (the artifact's scheduler takes the
smallest node name among equal top scores).

`inflate` is the artifact's evaluation: the trace's tasks in random order, then tasks drawn at
random from it, until their GPU requests reach `to` x the cluster's GPUs; none departs. It
records allocated GPUs and fragmentation at each whole percent of arrived GPU requests. Memory
is checked (the scheduler's resource filter); GPU-model constraints (`gpu_spec`) are not (the
default openb trace has none).
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from wanka.errors import ConfigError

__all__ = [
    "Cluster",
    "Scorer",
    "Tasks",
    "best_fit",
    "fgd",
    "fragmentation",
    "inflate",
    "read_openb_nodes",
    "read_openb_tasks",
]

FULL = 1000
"""Milli-GPU of one whole GPU."""
MAX_SPEC_CPU, MAX_SPEC_GPU = 128_000, 8 * FULL
"""The artifact's best-fit normalisation (`MaxSpecCpu`, `MaxSpecGpu`, open-gpu-share const.go)."""
TYPICAL_COVERAGE = 0.95
"""Typical task types cover this share of the tasks (`podPopularityThreshold: 95`)."""

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Tasks:
    """Task requests: CPU milli-cores, GPUs (0, or k whole), GPU milli per GPU, memory MiB."""

    cpu: I64
    gpus: I64
    milli: I64
    mem: I64 | None = None

    def __len__(self) -> int:
        return int(self.cpu.shape[0])

    def gpu_milli(self) -> I64:
        """Milli-GPU each task asks for in all."""
        return np.where(self.gpus <= 1, self.milli, self.gpus * FULL)

    def types(self, coverage: float = 1.0) -> tuple[Tasks, NDArray[np.float64]]:
        """The most popular (CPU, GPUs, milli) specs covering `coverage` of the tasks, with
        their popularity renormalised to sum to 1 (coverage 1: every distinct spec)."""
        keys = np.stack([self.cpu, self.gpus, self.milli], axis=1)
        uniq, counts = np.unique(keys, axis=0, return_counts=True)
        order = np.argsort(-counts, kind="stable")
        uniq, counts = uniq[order], counts[order]
        share = np.cumsum(counts) / counts.sum()
        keep = int(np.searchsorted(share, coverage - 1e-12)) + 1
        uniq, counts = uniq[:keep], counts[:keep]
        return Tasks(uniq[:, 0], uniq[:, 1], uniq[:, 2]), counts / counts.sum()


@dataclass(slots=True)
class Cluster:
    """Free resources of every node: CPU milli-cores, memory MiB, milli-GPU free per GPU slot."""

    cpu_cap: I64
    cpu: I64
    gpu: I64
    """(nodes, max GPUs per node) free milli; slots beyond a node's GPUs hold -1."""
    mem: I64 | None = None

    @property
    def gpu_total(self) -> int:
        return int((self.gpu >= 0).sum())

    def copy(self) -> Cluster:
        mem = None if self.mem is None else self.mem.copy()
        return Cluster(self.cpu_cap.copy(), self.cpu.copy(), self.gpu.copy(), mem)

    def every(self, step: int) -> Cluster:
        """One node in `step` (a smaller cluster of the same mix)."""
        mem = None if self.mem is None else self.mem[::step].copy()
        return Cluster(
            self.cpu_cap[::step].copy(), self.cpu[::step].copy(), self.gpu[::step].copy(), mem
        )


@dataclass(slots=True)
class Scorer:
    """What a placement needs besides the task: the typical types and how to break ties."""

    types: Tasks
    pop: NDArray[np.float64]
    artifact: bool = False
    node_frag: NDArray[np.float64] | None = None
    """Fragmentation of every node now (kept up to date by the placements that use it)."""

    def frag_of(self, cl: Cluster) -> NDArray[np.float64]:
        if self.node_frag is None:
            self.node_frag = fragmentation(cl.cpu, cl.gpu, self.types, self.pop)
        return self.node_frag


def _open(path: Path) -> list[dict[str, str]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", newline="") as fh:
        return list(csv.DictReader(fh))


def read_openb_nodes(path: Path) -> Cluster:
    """GPU nodes of the openb node list (`sn,cpu_milli,memory_mib,gpu,model`)."""
    rows = [r for r in _open(path) if int(r["gpu"]) > 0]
    if not rows:
        raise ConfigError(f"{path}: no GPU node")
    cpu = np.asarray([int(r["cpu_milli"]) for r in rows], np.int64)
    mem = np.asarray([int(r["memory_mib"]) for r in rows], np.int64)
    ngpu = np.asarray([int(r["gpu"]) for r in rows], np.int64)
    gpu = np.where(np.arange(ngpu.max())[None, :] < ngpu[:, None], FULL, -1).astype(np.int64)
    return Cluster(cpu_cap=cpu.copy(), cpu=cpu, gpu=gpu, mem=mem)


def read_openb_tasks(path: Path) -> Tasks:
    """Pods of an openb pod list (`cpu_milli, memory_mib, num_gpu, gpu_milli`)."""
    rows = _open(path)
    cpu = np.asarray([int(r["cpu_milli"]) for r in rows], np.int64)
    mem = np.asarray([int(r["memory_mib"]) for r in rows], np.int64)
    gpus = np.asarray([int(r["num_gpu"]) for r in rows], np.int64)
    milli = np.asarray([int(r["gpu_milli"]) for r in rows], np.int64)
    milli = np.where(gpus == 0, 0, milli)
    return Tasks(cpu, gpus, milli, mem)


def fragmentation(
    cpu: I64, gpu: I64, types: Tasks, pop: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Expected fragmented milli-GPU of node states: cpu (n,), gpu (n, G) -> (n,)."""
    free = np.where(gpu > 0, gpu, 0)  # (n, G)
    total = free.sum(axis=1)  # (n,)
    whole = (gpu == FULL).sum(axis=1)  # (n,)
    c, k, g = types.cpu[None, :], types.gpus[None, :], types.milli[None, :]  # (1, M)
    frac = (k == 1) & (g < FULL)  # (1, M)
    short = gpu[:, None, :] < np.where(frac, g, FULL)[:, :, None]  # (n, M, G): unusable GPUs
    part = np.where(short, free[:, None, :], 0).sum(axis=2)  # (n, M)
    fits_gpu = np.where(frac, (~short).any(axis=2), whole[:, None] >= k)
    fits = fits_gpu & (cpu[:, None] >= c) & (k > 0)
    per_type = np.where(fits, part, total[:, None])  # (n, M)
    return np.asarray(per_type @ pop, np.float64)


def _candidates(cl: Cluster, c: int, k: int, g: int, m: int) -> tuple[I64, I64]:
    """(nodes, gpu slot or -1) where the task fits: one row per (node, GPU) for a fraction."""
    ok = cl.cpu >= c
    if cl.mem is not None:
        ok &= cl.mem >= m
    if k == 0:
        nodes = np.flatnonzero(ok)
        return nodes, np.full(nodes.shape, -1, np.int64)
    if k == 1 and g < FULL:
        n, s = np.nonzero((cl.gpu >= g) & ok[:, None])
        return n.astype(np.int64), s.astype(np.int64)
    nodes = np.flatnonzero(((cl.gpu == FULL).sum(axis=1) >= k) & ok)
    return nodes, np.full(nodes.shape, -1, np.int64)


def _after(cl: Cluster, nodes: I64, slots: I64, c: int, k: int, g: int) -> tuple[I64, I64]:
    """Node states (cpu, gpu rows) after placing the task on each candidate."""
    cpu = cl.cpu[nodes] - c
    gpu = cl.gpu[nodes].copy()
    if k == 1 and g < FULL:
        gpu[np.arange(nodes.shape[0]), slots] -= g
    elif k > 0:  # take the k lowest-index whole GPUs
        take = np.cumsum(gpu == FULL, axis=1) <= k
        gpu = np.where((gpu == FULL) & take, 0, gpu)
    return cpu, gpu


def _pick(nodes: I64, score: F64, pref: F64) -> int:
    """Candidate index to use: among the top-scoring candidates, per node the one with the
    highest `pref` (first on ties), on the first such node (the artifact's scheduler breaks
    ties by the smallest node name, `selectHost` in its vendored generic_scheduler.go)."""
    top = np.flatnonzero(score == score.max())
    sel = top[np.lexsort((top, -pref[top], nodes[top]))]
    return int(sel[0])


def _place(cl: Cluster, task: tuple[int, int, int, int], sc: Scorer, rule: _Rule) -> bool:
    c, k, g, m = task
    nodes, slots = _candidates(cl, c, k, g, m)
    if nodes.shape[0] == 0:
        return False
    cpu, gpu = _after(cl, nodes, slots, c, k, g)
    score, pref = rule(cl, nodes, slots, cpu, gpu, sc)
    i = _pick(nodes, score, pref)
    node = int(nodes[i])
    cl.cpu[node], cl.gpu[node] = cpu[i], gpu[i]
    if cl.mem is not None:
        cl.mem[node] -= m
    if sc.node_frag is not None:
        sc.node_frag[node] = fragmentation(cpu[i : i + 1], gpu[i : i + 1], sc.types, sc.pop)[0]
    return True


def _unique_states(cpu: I64, gpu: I64) -> tuple[I64, I64]:
    """Rows (cpu, gpu row) up to the order of the GPUs: index of one row per distinct state, and
    each row's state number. States are packed exactly into int64 columns (CPU; six GPUs of 10
    bits each, -1..1000 shifted to 0..1001) and sorted once."""
    g = np.sort(gpu, axis=1) + 1
    cols = [cpu]
    for k in range(0, g.shape[1], 6):
        block = g[:, k : k + 6]
        cols.append((block << (10 * np.arange(block.shape[1], dtype=np.int64))).sum(axis=1))
    order = np.lexsort(cols[::-1])
    srt = np.stack([c[order] for c in cols], axis=1)
    new = np.r_[True, (srt[1:] != srt[:-1]).any(axis=1)]
    ids = np.cumsum(new) - 1
    inverse = np.empty_like(ids)
    inverse[order] = ids
    return order[new], inverse


_Rule = Callable[[Cluster, I64, I64, I64, I64, Scorer], tuple[F64, F64]]


def _fgd_score(
    cl: Cluster, nodes: I64, slots: I64, cpu: I64, gpu: I64, sc: Scorer
) -> tuple[F64, F64]:
    """Minus the growth of fragmentation per candidate (artifact: its integer sigmoid score);
    the GPU of a node is chosen by the same score."""
    # Nodes left in the same state have the same fragmentation: evaluate each distinct state once.
    first, inverse = _unique_states(cpu, gpu)
    after = fragmentation(cpu[first], gpu[first], sc.types, sc.pop)[inverse]
    drop = np.round(sc.frag_of(cl)[nodes] - after, 6)  # ties must not hang on rounding
    if sc.artifact:  # fgd_score.go: int64(sigmoid(drop / 1000) * MaxNodeScore)
        drop = np.floor(100.0 / (1.0 + np.exp(-drop / FULL)))
    return drop, drop


def _best_fit_score(
    cl: Cluster, nodes: I64, slots: I64, cpu: I64, gpu: I64, sc: Scorer
) -> tuple[F64, F64]:
    """Minus the capacity left on each candidate node (CPU and GPU, each over its max spec);
    inside a node, the GPU left with the least free milli ("best")."""
    left_gpu = np.where(gpu > 0, gpu, 0)
    leftover = 0.5 * cpu / MAX_SPEC_CPU + 0.5 * left_gpu.sum(axis=1) / MAX_SPEC_GPU
    slot_left = np.where(slots >= 0, left_gpu[np.arange(gpu.shape[0]), slots], 0)
    pref = -slot_left.astype(np.float64)
    if not sc.artifact:
        return -leftover, pref
    raw = np.floor((1.0 - leftover) * 100.0)  # best_fit_score.go, then NormalizeScore
    lo, hi = raw.min(), raw.max()
    norm = np.zeros_like(raw) if hi == lo else np.floor((raw - lo) * 100 / (hi - lo))
    return norm, pref


def fgd(cl: Cluster, task: tuple[int, int, int, int], sc: Scorer) -> bool:
    """Place one (cpu, gpus, milli, mem) task by fragmentation gradient descent; False when it
    fits nowhere."""
    return _place(cl, task, sc, _fgd_score)


def best_fit(cl: Cluster, task: tuple[int, int, int, int], sc: Scorer) -> bool:
    """Place one task on the node (and GPU) left with the least free capacity."""
    return _place(cl, task, sc, _best_fit_score)


POLICIES = {"fgd": fgd, "best-fit": best_fit}


def arrival_order(tasks: Tasks, capacity_milli: int, to: float, rng: np.random.Generator) -> I64:
    """The artifact's workload: every task once in random order, then tasks drawn at random
    while the GPU asked stays within `to` x capacity (`TunePodsByNodeTotalResource`)."""
    order = list(rng.permutation(len(tasks)))
    need = tasks.gpu_milli()
    asked = int(need.sum())
    while True:
        j = int(rng.integers(len(tasks)))
        if asked + int(tasks.milli[j]) > to * capacity_milli:
            break
        asked += int(need[j])
        order.append(j)
    return np.asarray(order, np.int64)


def inflate(
    cluster: Cluster,
    tasks: Tasks,
    policy: str,
    *,
    seed: int = 0,
    to: float = 1.3,
    artifact: bool = True,
    coverage: float = TYPICAL_COVERAGE,
) -> dict[str, list[float]]:
    """Workload inflation: place tasks in the artifact's order until their GPU reaches `to` x
    capacity; none departs.

    Returns, at each whole percent p of arrived GPU requests (1..100 `to`): `arrived` (p / 100),
    `allocated` (GPU placed / capacity), `unallocated_gpus` (capacity - placed, in GPUs) and
    `fragmentation` (fragmented GPUs, the measure above, over the whole cluster).
    """
    place = POLICIES[policy]
    cl = cluster.copy()
    types, pop = tasks.types(coverage)
    rng = np.random.default_rng(seed)
    sc = Scorer(types, pop, artifact)
    cap = cl.gpu_total * FULL
    order = arrival_order(tasks, cap, to, rng)
    need = tasks.gpu_milli()
    mem = np.zeros(len(tasks), np.int64) if tasks.mem is None else tasks.mem
    out: dict[str, list[float]] = {k: [] for k in ("arrived", "allocated", "unallocated_gpus")}
    out["fragmentation"] = []
    asked = placed = 0
    mark = 1
    for j in order.tolist():
        task = (int(tasks.cpu[j]), int(tasks.gpus[j]), int(tasks.milli[j]), int(mem[j]))
        asked += int(need[j])
        if place(cl, task, sc):
            placed += int(need[j])
        while mark <= round(100 * to) and asked * 100 >= mark * cap:
            out["arrived"].append(mark / 100)
            out["allocated"].append(placed / cap)
            out["unallocated_gpus"].append((cap - placed) / FULL)
            frag = fragmentation(cl.cpu, cl.gpu, types, pop).sum() / FULL
            out["fragmentation"].append(float(frag))
            mark += 1
    return out

"""Fragmentation gradient descent (FGD) placement of GPU-sharing tasks, and the paper's test.

Weng et al., "Beware of Fragmentation: Scheduling GPU-Sharing Workloads with Fragmentation
Gradient Descent", USENIX ATC '23. A task asks for CPU (milli-cores) and either a fraction of
one GPU (`gpu_milli` < 1000), k whole GPUs, or no GPU. For a task type m, the free GPU capacity
of a node that m cannot use is *fragmented* for m:

* m does not fit the node at all (CPU, or GPU capacity): every free GPU milli of the node;
* m fits and asks for a fraction g: the free milli of GPUs with less than g free;
* m fits and asks for whole GPUs: the free milli of partly used GPUs;
* m asks for no GPU: every free GPU milli of the node (m leaves them idle).

A node's fragmentation is the popularity-weighted sum over the workload's task types; FGD puts
each task where that sum grows least (the steepest descent), choosing the GPU for a fractional
task the same way. `best_fit` is the paper's packing baseline: the node (and GPU) left with the
least free capacity, CPU and GPU shares weighted equally.

`inflate` is the paper's evaluation ("workload inflation"): tasks drawn at random from the
trace arrive, none departs, until the GPU they asked for reaches `to` x the cluster's GPUs; it
records allocated GPUs and fragmentation as the arrived share grows.
Simplifications (stated): GPU-model constraints (`gpu_spec`) and memory are not checked.
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from wanka.errors import ConfigError

__all__ = ["Cluster", "Tasks", "best_fit", "fgd", "inflate", "read_openb_nodes", "read_openb_tasks"]

FULL = 1000
"""Milli-GPU of one whole GPU."""


@dataclass(frozen=True, slots=True)
class Tasks:
    """Task requests: CPU milli-cores, GPUs (0, or k whole), GPU milli per GPU."""

    cpu: NDArray[np.int64]
    gpus: NDArray[np.int64]
    milli: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.cpu.shape[0])

    def types(self) -> tuple[Tasks, NDArray[np.float64]]:
        """Distinct task types and their popularity (share of tasks)."""
        keys = np.stack([self.cpu, self.gpus, self.milli], axis=1)
        uniq, counts = np.unique(keys, axis=0, return_counts=True)
        return Tasks(uniq[:, 0], uniq[:, 1], uniq[:, 2]), counts / counts.sum()


@dataclass(slots=True)
class Cluster:
    """Free resources of every node: CPU milli-cores, and milli-GPU free per GPU slot."""

    cpu_cap: NDArray[np.int64]
    cpu: NDArray[np.int64]
    gpu: NDArray[np.int64]
    """(nodes, max GPUs per node) free milli; slots beyond a node's GPUs hold -1."""

    @property
    def gpu_total(self) -> int:
        return int((self.gpu >= 0).sum())


def _open(path: Path) -> list[dict[str, str]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", newline="") as fh:  # type: ignore[operator]
        return list(csv.DictReader(fh))


def read_openb_nodes(path: Path) -> Cluster:
    """GPU nodes of the openb node list (`sn,cpu_milli,memory_mib,gpu,model`)."""
    rows = [r for r in _open(path) if int(r["gpu"]) > 0]
    if not rows:
        raise ConfigError(f"{path}: no GPU node")
    cpu = np.asarray([int(r["cpu_milli"]) for r in rows], np.int64)
    ngpu = np.asarray([int(r["gpu"]) for r in rows], np.int64)
    gpu = np.where(np.arange(ngpu.max())[None, :] < ngpu[:, None], FULL, -1).astype(np.int64)
    return Cluster(cpu_cap=cpu.copy(), cpu=cpu, gpu=gpu)


def read_openb_tasks(path: Path) -> Tasks:
    """Pods of an openb pod list (`cpu_milli, num_gpu, gpu_milli`)."""
    rows = _open(path)
    cpu = np.asarray([int(r["cpu_milli"]) for r in rows], np.int64)
    gpus = np.asarray([int(r["num_gpu"]) for r in rows], np.int64)
    milli = np.asarray([int(r["gpu_milli"]) for r in rows], np.int64)
    milli = np.where(gpus == 0, 0, milli)
    return Tasks(cpu, gpus, milli)


def fragmentation(
    cpu: NDArray[np.int64], gpu: NDArray[np.int64], types: Tasks, pop: NDArray[np.float64]
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
    return per_type @ pop


def _candidates(cl: Cluster, c: int, k: int, g: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(nodes, gpu slot or -1) where the task fits: one row per (node, GPU) for a fraction."""
    ok_cpu = cl.cpu >= c
    if k == 0:
        nodes = np.flatnonzero(ok_cpu)
        return nodes, np.full(nodes.shape, -1)
    if k == 1 and g < FULL:
        n, s = np.nonzero((cl.gpu >= g) & ok_cpu[:, None])
        return n, s
    nodes = np.flatnonzero(((cl.gpu == FULL).sum(axis=1) >= k) & ok_cpu)
    return nodes, np.full(nodes.shape, -1)


def _after(
    cl: Cluster, nodes: NDArray[np.int64], slots: NDArray[np.int64], c: int, k: int, g: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Node states (cpu, gpu rows) after placing the task on each candidate."""
    cpu = cl.cpu[nodes] - c
    gpu = cl.gpu[nodes].copy()
    if k == 1 and g < FULL:
        gpu[np.arange(nodes.shape[0]), slots] -= g
    elif k > 0:  # take the k lowest-index whole GPUs
        take = np.cumsum(gpu == FULL, axis=1) <= k
        gpu = np.where((gpu == FULL) & take, 0, gpu)
    return cpu, gpu


def _apply(cl: Cluster, node: int, cpu: NDArray[np.int64], gpu: NDArray[np.int64]) -> None:
    cl.cpu[node] = cpu
    cl.gpu[node] = gpu


def fgd(cl: Cluster, c: int, k: int, g: int, types: Tasks, pop: NDArray[np.float64]) -> bool:
    """Place one task by fragmentation gradient descent; False when it fits nowhere."""
    nodes, slots = _candidates(cl, c, k, g)
    if nodes.shape[0] == 0:
        return False
    cpu, gpu = _after(cl, nodes, slots, c, k, g)
    # Nodes in the same state give the same change: evaluate each distinct (before, after) once.
    # GPU order within a node does not matter to the measure, so rows are compared sorted.
    key = np.concatenate(
        [cl.cpu[nodes, None], np.sort(cl.gpu[nodes], axis=1), cpu[:, None], np.sort(gpu, axis=1)],
        axis=1,
    )
    uniq, inverse = np.unique(key, axis=0, return_inverse=True)
    width = gpu.shape[1]
    before = fragmentation(uniq[:, 0], uniq[:, 1 : 1 + width], types, pop)
    after = fragmentation(uniq[:, 1 + width], uniq[:, 2 + width :], types, pop)
    # Lowest change; ties go to the first candidate (node order), as a scan would.
    delta = (after - before)[inverse.reshape(-1)]
    i = int(np.argmin(delta))
    _apply(cl, int(nodes[i]), cpu[i], gpu[i])
    return True


def best_fit(cl: Cluster, c: int, k: int, g: int, *_: object) -> bool:
    """Place one task on the node (and GPU) left with the least free capacity."""
    nodes, slots = _candidates(cl, c, k, g)
    if nodes.shape[0] == 0:
        return False
    cpu, gpu = _after(cl, nodes, slots, c, k, g)
    ngpu = np.maximum((gpu >= 0).sum(axis=1), 1)
    score = cpu / cl.cpu_cap[nodes] + np.where(gpu > 0, gpu, 0).sum(axis=1) / (FULL * ngpu)
    i = int(np.argmin(score))
    _apply(cl, int(nodes[i]), cpu[i], gpu[i])
    return True


POLICIES = {"fgd": fgd, "best-fit": best_fit}


def inflate(
    cluster: Cluster,
    tasks: Tasks,
    policy: str,
    *,
    seed: int = 0,
    to: float = 1.0,
    points: int = 20,
) -> dict[str, list[float]]:
    """Workload inflation: place tasks drawn from `tasks` until their GPU reaches `to` x capacity.

    Returns, at `points` evenly spaced arrived shares: `arrived` (GPU asked / capacity),
    `allocated` (GPU placed / capacity), `unallocated_gpus` (capacity - placed, in GPUs) and
    `fragmentation` (fragmented GPUs, the measure above, over the whole cluster).
    """
    place = POLICIES[policy]
    cl = Cluster(cluster.cpu_cap.copy(), cluster.cpu.copy(), cluster.gpu.copy())
    types, pop = tasks.types()
    cap = cl.gpu_total * FULL
    rng = np.random.default_rng(seed)
    asked = placed = 0
    marks = list(np.linspace(to / points, to, points))
    out: dict[str, list[float]] = {
        "arrived": [],
        "allocated": [],
        "unallocated_gpus": [],
        "fragmentation": [],
    }
    while marks:
        j = int(rng.integers(len(tasks)))
        c, k, g = int(tasks.cpu[j]), int(tasks.gpus[j]), int(tasks.milli[j])
        need = g if k <= 1 else k * FULL
        asked += need
        if place(cl, c, k, g, types, pop):
            placed += need
        while marks and asked >= marks[0] * cap:
            marks.pop(0)
            out["arrived"].append(asked / cap)
            out["allocated"].append(placed / cap)
            out["unallocated_gpus"].append((cap - placed) / FULL)
            frag = fragmentation(cl.cpu, cl.gpu, types, pop).sum() / FULL
            out["fragmentation"].append(float(frag))
    return out

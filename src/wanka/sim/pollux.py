"""Work of a rigid Pollux job, from the artifact's measured model profiles (shipped data).

Pollux's simulator (Qiao et al., OSDI '21; github.com/petuum/adaptdl, branch osdi21-artifact,
`simulator/applications.py` and `Job.step` in `simulator/simulator.py`) does not give a job a
duration: a job advances in *statistical progress* and completes after its application's
`max_epochs` epochs. Over epoch e the progress to cover is `p(e+1) - p(e)`, with `p(e)` the
smallest `progress` of row e-1 across the validation tables; the job covers it at goodput
`gain / step_time`, where

    gain      = (var + sqr) / (var / scale + sqr)     (gradient-noise statistics at epoch e,
    scale     = batch / initial batch                  interpolated between measured batches)
    step_time = step + accum_steps * (step - sync)     (measured for the placement and local
                                                        batch, linear in local batch)

The same rules here, rewritten in numpy over the shipped profile CSVs (no code copied): the
rigid job's batch split (local batch, gradient accumulation) as the artifact's
`Job.update_local_bsz`, on the packed placement of its replicas on 4-GPU nodes. Work = the sum
over epochs of progress / goodput, seconds at speed 1 on that placement.
"""

from __future__ import annotations

import csv
import gzip
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from wanka.errors import ConfigError

__all__ = ["POLLUX_GRAD_BYTES", "POLLUX_MAX_EPOCHS", "pollux_job_work"]

# Application -> gradient bytes per step = 4 bytes x parameters: ResNet-18 11.7 M (cifar10),
# ResNet-50 25.6 M (imagenet), BERT-base 110 M, DeepSpeech2 ~26 M, YOLOv3 62 M, NCF (NeuMF,
# MovieLens) ~5 M (published model sizes, rounded).
POLLUX_GRAD_BYTES = {
    "cifar10": 4 * 11.7e6,
    "imagenet": 4 * 25.6e6,
    "bert": 4 * 110e6,
    "deepspeech2": 4 * 26e6,
    "yolov3": 4 * 62e6,
    "ncf": 4 * 5e6,
}
POLLUX_MAX_EPOCHS = {
    "bert": 2,
    "cifar10": 100,
    "ncf": 10,
    "imagenet": 90,
    "deepspeech2": 80,
    "yolov3": 50,
}
"""Epochs to completion per application (the artifact's `APPLICATIONS` table)."""
_MAX_LOCAL_BSZ = {"yolov3": 8}
"""Largest local batch where the artifact sets one; else the largest measured."""


@dataclass(frozen=True, slots=True)
class _Profile:
    placements: dict[str, NDArray[np.float64]]
    """Placement id -> rows (local_bsz, step_time, sync_time) sorted by local batch."""
    scalability: dict[tuple[int, int], NDArray[np.float64]]
    """(nodes, replicas) -> rows (local_bsz, step_time, sync_time) sorted by local batch."""
    validation: dict[int, NDArray[np.float64]]
    """Batch size -> rows (progress, grad_sqr, grad_var), one per epoch."""
    max_local_bsz: float


def _rows(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", newline="") as fh:
        return list(csv.DictReader(fh))


def _sorted(rows: list[tuple[float, float, float]]) -> NDArray[np.float64]:
    a = np.asarray(rows, np.float64)
    return a[np.argsort(a[:, 0], kind="stable")]


@lru_cache(maxsize=8)
def _profile(app: str) -> _Profile:
    root = Path(str(resources.files("wanka.sim"))) / "data" / "traces" / "philly-pollux"
    root = root / "model-profiles" / app
    if not root.exists() or app not in POLLUX_MAX_EPOCHS:
        raise ConfigError(f"no Pollux model profile for application {app!r}")
    place: dict[str, list[tuple[float, float, float]]] = {}
    for r in _rows(root / "placements.csv.gz"):
        row = (float(r["local_bsz"]), float(r["step_time"]), float(r["sync_time"]))
        place.setdefault(r["placement"], []).append(row)
    scal: dict[tuple[int, int], list[tuple[float, float, float]]] = {}
    for r in _rows(root / "scalability.csv.gz"):
        row = (float(r["local_bsz"]), float(r["step_time"]), float(r["sync_time"]))
        scal.setdefault((int(r["num_nodes"]), int(r["num_replicas"])), []).append(row)
    valid = {}
    for p in root.glob("validation-*.csv.gz"):
        rows = _rows(p)
        valid[int(p.name.split("-")[1].split(".")[0])] = np.asarray(
            [(float(r["progress"]), float(r["grad_sqr"]), float(r["grad_var"])) for r in rows]
        )
    largest = max(float(r[0]) for rows in place.values() for r in rows)
    return _Profile(
        placements={k: _sorted(v) for k, v in place.items()},
        scalability={k: _sorted(v) for k, v in scal.items()},
        validation=dict(sorted(valid.items())),
        max_local_bsz=float(_MAX_LOCAL_BSZ.get(app, largest)),
    )


def _step_times(prof: _Profile, replicas: int, local_bsz: float, gpn: int) -> tuple[float, float]:
    """(step, sync) seconds of the packed placement at a local batch (linear in local batch)."""
    full, rem = divmod(replicas, gpn)
    per_node = [gpn] * full + ([rem] if rem else [])
    key = "".join(map(str, sorted(per_node)))
    table = prof.placements.get(key)
    if table is None:  # more nodes than measured placements: nearest scalability measurement
        want = (len(per_node), replicas)
        table = prof.scalability[min(prof.scalability, key=lambda k: (abs(k[1] - want[1]), k))]
    step = float(np.interp(local_bsz, table[:, 0], table[:, 1]))
    sync = float(np.interp(local_bsz, table[:, 0], table[:, 2]))
    return step, sync


def _grad_stats(prof: _Profile, batch: float, epoch: int) -> tuple[float, float]:
    """(grad_sqr, grad_var) at a batch size: linear between the measured batch sizes."""
    sizes = np.asarray(list(prof.validation), np.float64)
    sqr = np.asarray([v[epoch, 1] for v in prof.validation.values()])
    var = np.asarray([v[epoch, 2] for v in prof.validation.values()])
    return float(np.interp(batch, sizes, sqr)), float(np.interp(batch, sizes, var))


def _batch_split(prof: _Profile, replicas: int, batch_size: int) -> tuple[int, int, int]:
    """(atomic local batch, accumulation steps, effective batch) of a rigid job."""
    init, largest = min(prof.validation), max(prof.validation)
    local = math.ceil(batch_size / replicas - 1e-8)
    accum = math.ceil(local / prof.max_local_bsz - 1e-8) - 1
    if replicas == 1 and batch_size > init:
        accum = max(1, accum)
    atomic = math.ceil(local / (accum + 1) - 1e-8)
    atomic = min(atomic, int(largest / (replicas * (accum + 1))))
    return atomic, accum, replicas * atomic * (accum + 1)


@lru_cache(maxsize=1024)
def pollux_job_work(
    app: str, replicas: int, batch_size: int, gpus_per_node: int = 4
) -> tuple[float, float, float]:
    """(work_s, compute step_s, gradient bytes) of a rigid Pollux job (see the module doc).

    >>> round(pollux_job_work("cifar10", 8, 2048)[0])  # the artifact's fastest such job: 904 s
    869
    """
    prof = _profile(app)
    atomic, accum, batch = _batch_split(prof, replicas, batch_size)
    step, sync = _step_times(prof, replicas, atomic, gpus_per_node)
    step_total = step + accum * (step - sync)
    epochs = POLLUX_MAX_EPOCHS[app]
    progress = np.min(np.stack([v[:epochs, 0] for v in prof.validation.values()]), axis=0)
    progress = np.concatenate([[0.0], progress])
    scale = batch / min(prof.validation)
    work = 0.0
    for e in range(epochs):
        sqr, var = _grad_stats(prof, batch, e)
        gain = (var + sqr) / (var / scale + sqr)
        work += (progress[e + 1] - progress[e]) * step_total / gain
    return float(work), max(step - sync, 1e-3), POLLUX_GRAD_BYTES[app]

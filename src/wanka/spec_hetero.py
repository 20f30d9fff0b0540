"""Heterogeneous run specs (docs/design.md "Heterogeneous run spec"): one job over several accelerator kinds.

`hardware` is a list of groups (one accelerator kind each); `parallelism.stages` places the pipeline on
them, in pipeline order. A stage is `{group, layers, tp, dp}` (all its data-parallel replicas on one group)
or `{layers, replicas: [{group, tp, batch_share?}]}` (replicas on different kinds). Replica i of every
stage belongs to pipeline i, so every stage has the same number of replicas. A pipeline's `batch_share`
is its share of the global batch (stated on any stage; equal shares for the pipelines left unstated).

Defaults for null fields (each recorded as an assumption): a group's gpus_per_node = the catalog's node
size; its scale_out_gbit (the server's) = the catalog NIC per accelerator x gpus_per_node; a stage's tp = 1 and dp = 1;
micro_batch_size = 1; global_batch_size = micro_batch_size x pipelines; recompute = none;
distributed_optimizer = false (each stage keeps its own full optimizer state, as the DeepSpeed and
Megatron pipeline engines do without ZeRO); precision = bf16.

Optional parallelism keys with the homogeneous model's meaning (docs/perf-model.md): `vpp` (virtual
pipeline stages per rank, Megatron's interleaved 1F1B; default 1), `cp` (context-parallel degree of
every replica, which then spans tp x cp chips; default 1), `overlap_grad_reduce` (Megatron
`--overlap-grad-reduce`/`--overlap-param-gather`: the gradient reduction hides behind backward as the
homogeneous model's `OverlapPolicy.dp_overlap`; default false, the DeepSpeed pipeline engine's
behaviour) and `fused_kernels` (Megatron-Core / Transformer Engine fused kernels: no unfused-kernel
traffic term `HeteroCalibration.layer_bytes_per_token`; default false, as in the measured mixed runs).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from wanka.catalogs import get_accelerator
from wanka.errors import ConfigError
from wanka.hardware import PRECISIONS, Accelerator
from wanka.units import difflib_closest, gbit_per_s
from wanka.workload.model import ModelSpec

__all__ = ["Group", "HeteroRunSpec", "Replica", "Stage", "parse_hetero_run"]

_RUN_KEYS = {"id", "model", "hardware", "parallelism", "precision", "measured", "source", "set"}
_GROUP_KEYS = {"name", "accelerator", "count", "gpus_per_node", "scale_out_gbit", "system"}
_PAR_KEYS = {
    "micro_batch_size",
    "global_batch_size",
    "stages",
    "recompute",
    "sequence_parallel",
    "distributed_optimizer",
    "vpp",
    "cp",
    "overlap_grad_reduce",
    "fused_kernels",
}
_STAGE_KEYS = {"group", "layers", "tp", "dp", "replicas"}
_REPLICA_KEYS = {"group", "tp", "batch_share"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    """One accelerator kind of the job: `count` chips, `gpus_per_node` per server."""

    name: str
    accelerator: Accelerator
    count: int
    gpus_per_node: int
    node_scale_out_bytes_per_s: float
    """Scale-out bandwidth of one server, one direction (bytes/s), shared by the accelerators of the
    server that talk across the network at the same time. `scale_out_gbit` is read as this server
    figure, as cloud instance types quote it (p3.8xlarge 10 Gb/s, g4dn.12xlarge 50 Gb/s): on the
    public mixed-chip runs this reading fits far better than a per-accelerator NIC (docs/hetero.md)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Replica:
    """One data-parallel replica of a stage: `tp` chips of group `group` (an index into groups)."""

    group: int
    tp: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Stage:
    """One pipeline stage: `layers` transformer blocks, replicated over `replicas` (pipeline order)."""

    layers: int
    replicas: tuple[Replica, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class HeteroRunSpec:
    """A training run whose pipeline stages and data-parallel replicas sit on several accelerator kinds."""

    id: str | None
    model: ModelSpec
    groups: tuple[Group, ...]
    stages: tuple[Stage, ...]
    batch_shares: tuple[float, ...]
    """Share of the global batch each pipeline (data-parallel replica index) trains on; sums to 1."""
    micro_batch_size: int
    global_batch_size: int
    precision: str
    recompute: str = "none"
    sequence_parallel: bool = False
    distributed_optimizer: bool = False
    vpp: int = 1
    """Virtual pipeline stages per rank (interleaved 1F1B); every stage needs at least vpp layers."""
    cp: int = 1
    """Context-parallel degree of every replica: a replica of tp is tp x cp chips."""
    overlap_grad_reduce: bool = False
    fused_kernels: bool = False
    assumptions: tuple[str, ...] = ()
    measured: dict[str, Any] | None = None
    source: str | None = None
    set: str | None = None

    @property
    def count(self) -> int:
        """Accelerators the job uses (over all stages and replicas)."""
        return sum(r.tp for s in self.stages for r in s.replicas) * self.cp

    @property
    def pipelines(self) -> int:
        return len(self.stages[0].replicas)


def _pos_int(where: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or int(v) != v or v <= 0:
        raise ConfigError(f"{where} must be a positive integer, got {v!r}")
    return int(v)


def _groups(hw: list[Any], notes: list[str]) -> tuple[Group, ...]:
    from wanka.spec import check_mapping

    if not hw:
        raise ConfigError("hardware: give at least one group {name, accelerator, count}")
    out: list[Group] = []
    for i, g in enumerate(hw):
        where = f"hardware[{i}]"
        check_mapping(where, g, _GROUP_KEYS, {"accelerator", "count"})
        acc = get_accelerator(str(g["accelerator"]))
        name = str(g.get("name") if g.get("name") is not None else i)
        gpn = g.get("gpus_per_node")
        if gpn is None:
            gpn = acc.gpus_per_node
            notes.append(f"{where}.gpus_per_node null: {gpn} ({acc.id} default)")
        so = g.get("scale_out_gbit")
        if so is not None and (isinstance(so, bool) or not isinstance(so, (int, float)) or so <= 0):
            raise ConfigError(f"{where}.scale_out_gbit must be a positive number, got {so!r}")
        if so is None:
            bw = acc.scaleout_bw_bytes_per_s * int(gpn)
            notes.append(
                f"{where}.scale_out_gbit null: {acc.id} NIC per accelerator x {gpn} per server"
            )
        else:
            bw = gbit_per_s(so)
        out.append(
            Group(
                name=name,
                accelerator=acc,
                count=_pos_int(f"{where}.count", g["count"]),
                gpus_per_node=_pos_int(f"{where}.gpus_per_node", gpn),
                node_scale_out_bytes_per_s=bw,
            )
        )
    names = [g.name for g in out]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ConfigError(f"hardware: group name(s) {', '.join(sorted(dup))} appear twice")
    return tuple(out)


def _group_index(where: str, ref: Any, groups: tuple[Group, ...]) -> int:
    names = [g.name for g in groups]
    if isinstance(ref, int) and not isinstance(ref, bool) and 0 <= ref < len(groups):
        return ref
    if str(ref) in names:
        return names.index(str(ref))
    raise ConfigError(
        f"{where} names group {ref!r}, which does not exist{difflib_closest(str(ref), names)}; "
        f"groups are named in `hardware` (or indexed from 0)"
    )


def _stage(
    i: int, d: Any, groups: tuple[Group, ...], notes: list[str]
) -> tuple[Stage, list[float | None]]:
    from wanka.spec import check_mapping

    where = f"parallelism.stages[{i}]"
    check_mapping(where, d, _STAGE_KEYS, {"layers"})
    layers = _pos_int(f"{where}.layers", d["layers"])
    if "replicas" in d:
        if "group" in d or "dp" in d or "tp" in d:
            raise ConfigError(f"{where}: give either `replicas` or `group`/`tp`/`dp`, not both")
        reps = d["replicas"]
        if not isinstance(reps, list) or not reps:
            raise ConfigError(f"{where}.replicas must be a non-empty list of {{group, tp}}")
        out, shares = [], []
        for j, r in enumerate(reps):
            rw = f"{where}.replicas[{j}]"
            check_mapping(rw, r, _REPLICA_KEYS, {"group"})
            tp = _pos_int(f"{rw}.tp", r.get("tp", 1))
            out.append(Replica(group=_group_index(rw, r["group"], groups), tp=tp))
            bs = r.get("batch_share")
            if bs is not None and (
                isinstance(bs, bool) or not isinstance(bs, (int, float)) or not 0 < bs <= 1
            ):
                raise ConfigError(f"{rw}.batch_share must be in (0, 1], got {bs!r}")
            shares.append(None if bs is None else float(bs))
        return Stage(layers=layers, replicas=tuple(out)), shares
    if "group" not in d:
        raise ConfigError(f"{where}: give `group` (with tp, dp) or `replicas`")
    g = _group_index(where, d["group"], groups)
    for k in ("tp", "dp"):
        if d.get(k) is None:
            notes.append(f"{where}.{k} null: 1")
    tp = _pos_int(f"{where}.tp", d.get("tp") or 1)
    dp = _pos_int(f"{where}.dp", d.get("dp") or 1)
    return Stage(layers=layers, replicas=(Replica(group=g, tp=tp),) * dp), [None] * dp


def _shares(per_stage: list[list[float | None]], pipelines: int) -> tuple[float, ...]:
    fixed: list[float | None] = [None] * pipelines
    for i, row in enumerate(per_stage):
        for j, s in enumerate(row):
            if s is None:
                continue
            prev = fixed[j]
            if prev is not None and abs(prev - s) > 1e-9:
                raise ConfigError(
                    f"parallelism.stages[{i}].replicas[{j}].batch_share {s} contradicts {fixed[j]} "
                    f"stated for the same pipeline on another stage"
                )
            fixed[j] = s
    given = sum(s for s in fixed if s is not None)
    free = [j for j, s in enumerate(fixed) if s is None]
    if given > 1 + 1e-9 or (not free and abs(given - 1) > 1e-6):
        raise ConfigError(f"batch shares sum to {given:.3g}; they must sum to 1")
    if free and given >= 1 - 1e-9:
        raise ConfigError("batch shares already sum to 1 but some pipelines have none left")
    rest = (1.0 - given) / len(free) if free else 0.0
    return tuple(rest if s is None else s for s in fixed)


def _check_stages(
    stages: list[Stage], groups: tuple[Group, ...], model: ModelSpec, cp: int = 1, vpp: int = 1
) -> None:
    total = sum(s.layers for s in stages)
    if total != model.layers:
        raise ConfigError(
            f"parallelism.stages: layers sum to {total} but the model has {model.layers}; "
            f"make the stages' layers add up to model.layers"
        )
    if vpp > 1 and min(s.layers for s in stages) < vpp:
        raise ConfigError(
            f"parallelism.vpp {vpp}: a stage has fewer layers than virtual stages; lower vpp or give "
            f"every stage at least {vpp} layers"
        )
    if cp > 1 and model.seq_len % (2 * cp):
        raise ConfigError(
            f"parallelism.cp {cp}: seq_len {model.seq_len} must split into 2 x cp chunks; pick a cp "
            f"whose double divides it"
        )
    used = [0] * len(groups)
    for i, s in enumerate(stages):
        for r in s.replicas:
            used[r.group] += r.tp * cp
            if model.heads % r.tp:
                raise ConfigError(
                    f"parallelism.stages[{i}]: tp {r.tp} does not divide the model's {model.heads} heads"
                )
    for g, u in zip(groups, used, strict=True):
        if u > g.count:
            raise ConfigError(
                f"the stages use {u} chips of group {g.name!r} but it has {g.count}; "
                f"lower tp/dp there or raise hardware count"
            )

    n = {len(s.replicas) for s in stages}
    if len(n) > 1:
        raise ConfigError(
            f"parallelism.stages: stages have {sorted(n)} data-parallel replicas; every stage needs "
            f"the same number (replica i of each stage forms pipeline i)"
        )


def parse_hetero_run(d: dict[str, Any], *, base_dir: Path | None = None) -> HeteroRunSpec:
    """Parse one heterogeneous run mapping (its `hardware` is a list of groups)."""
    from wanka.spec import check_mapping, model_from_mapping

    check_mapping("run", d, _RUN_KEYS, {"model", "hardware"})
    notes: list[str] = []
    model = model_from_mapping(d["model"], base_dir=base_dir, assumptions=notes)
    m = d["model"] if isinstance(d["model"], dict) else {}
    if m.get("tied_embeddings") is None and m.get("preset") is None and m.get("hf_config") is None:
        model = replace(model, tied_embeddings=True)
        notes.append(
            "model.tied_embeddings null: true (Megatron-LM and DeepSpeed GPT models tie the input "
            "and output embedding unless --untie-embeddings-and-output-weights)"
        )
    groups = _groups(d["hardware"], notes)
    par = check_mapping("parallelism", d.get("parallelism") or {}, _PAR_KEYS, {"stages"})
    raw = par["stages"]
    if not isinstance(raw, list) or not raw:
        raise ConfigError("parallelism.stages must be a non-empty list (pipeline order)")
    parsed = [_stage(i, s, groups, notes) for i, s in enumerate(raw)]
    stages = [s for s, _ in parsed]
    vpp = _pos_int("parallelism.vpp", par.get("vpp") or 1)
    cp = _pos_int("parallelism.cp", par.get("cp") or 1)
    _check_stages(stages, groups, model, cp, vpp)
    shares = _shares([sh for _, sh in parsed], len(stages[0].replicas))
    b = _pos_int("parallelism.micro_batch_size", par.get("micro_batch_size") or 1)
    gbs = par.get("global_batch_size")
    if gbs is None:
        gbs = b * len(shares)
        notes.append(f"parallelism.global_batch_size null: micro_batch_size x pipelines = {gbs}")
    gbs = _pos_int("parallelism.global_batch_size", gbs)
    precision = d.get("precision") or "bf16"
    if d.get("precision") is None:
        notes.append("precision null: bf16")
    if precision not in PRECISIONS and precision != "fp32":
        raise ConfigError(
            f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}, fp32"
        )
    for g in groups:
        if (
            precision == "fp32"
        ):  # full precision: older chips (P100-class) without a usable fp16 path
            if not g.accelerator.peak_flops.get("fp32"):
                raise ConfigError(f"{g.accelerator.id} has no fp32 peak in the catalog")
        else:
            g.accelerator.peak(precision)  # raises if a kind lacks this number format
    rc = par.get("recompute") or "none"
    if rc not in ("none", "selective", "full"):
        raise ConfigError(f"parallelism.recompute must be none, selective or full, got {rc!r}")
    measured = d.get("measured")
    if measured is not None and not isinstance(measured, dict):
        raise ConfigError("measured must be a mapping")
    return HeteroRunSpec(
        id=None if d.get("id") is None else str(d["id"]),
        model=model,
        groups=groups,
        stages=tuple(stages),
        batch_shares=shares,
        micro_batch_size=b,
        global_batch_size=gbs,
        precision=precision,
        recompute=rc,
        sequence_parallel=bool(par.get("sequence_parallel") or False),
        distributed_optimizer=bool(par.get("distributed_optimizer") or False),
        vpp=vpp,
        cp=cp,
        overlap_grad_reduce=bool(par.get("overlap_grad_reduce") or False),
        fused_kernels=bool(par.get("fused_kernels") or False),
        assumptions=tuple(notes),
        measured=measured,
        source=d.get("source"),
        set=None if d.get("set") is None else str(d["set"]),
    )

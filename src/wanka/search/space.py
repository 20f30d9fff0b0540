"""The search space: every candidate parallel layout for one model on `count` accelerators, as arrays.

The space is the cartesian product of one candidate list per dimension (`SpaceDims`), counted before any
pruning. Candidates are then pruned by divisibility (rules below) in vectorised stages, never by a Python
loop over candidates, and emitted in chunks of struct-of-arrays columns with the Megatron names

    tp pp vpp cp ep etp dp micro_batch_size  (int64)
    fsdp (0 none, 1 grad_op, 2 full)  recompute (0 none, 1 selective, 2 full)  (int8)
    distributed_optimizer sequence_parallel  (bool)

Candidate lists before pruning (the dimensions the perf model distinguishes):
- tp, pp, cp: the divisors of `count` (as Calculon's `_factors(num_procs)`); dp = count / (tp*pp*cp);
- vpp: 1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 24, 32 (every value in the published Megatron/NeMo recipes);
- ep: the divisors of `count` for a mixture-of-experts model, {1} for a dense one (no inflation);
- etp: the divisors of `count` up to the accelerator's scale-up domain (`max_etp`; an expert GEMM split
  across the scale-out network would all-reduce every expert activation over the NICs, which no published
  recipe does: Megatron-Bridge MoE recipes use etp = 1), {1} for a dense model;
- micro_batch_size: the divisors of the global batch size;
- fsdp none|grad_op|full, distributed_optimizer on/off, sequence_parallel on/off, recompute none|selective|full;
- precision: the requested training precisions (one unless `--precision` lists several).

Divisibility rules (a candidate is dropped, never raised, when it breaks one). Every validity rule of
`wanka.parallel.layout_problems` (the one shared with `predict` and the simulator: degrees, divisibility,
heads, experts, layers) is applied; the rules below that go further are the space's own choices of
which valid layouts to enumerate (an even pipeline split, CP's load-balanced split, etp <= scale-up domain):
1. tp*pp*cp divides count;
2. heads % tp == 0, and kv_heads and tp divide one another (Megatron GQA sharding);
3. cp == 1 or seq_len % (2*cp) == 0 (Megatron's load-balanced causal split: 2*cp chunks per sequence);
4. pp <= layers; vpp > 1 needs pp > 1; the pp*vpp model chunks split the layers evenly once Megatron's
   optional embedding and loss stages, one uneven first/last stage and the MTP layers are counted:
   (layers + e) % (pp*vpp) == 0 for some e in 0..3+mtp_layers (`account_for_embedding_in_pipeline_split`,
   `account_for_loss_in_pipeline_split`, `decoder_first/last_pipeline_num_layers` or a
   `pipeline_model_parallel_layout`, as the Megatron-Bridge DeepSeek-V3 recipes use for 61 layers on 8-64 chunks);
5. global_batch_size % (micro_batch_size*dp) == 0;
6. MoE: experts % ep == 0, expert_ffn % etp == 0 and etp*ep divides tp*cp*dp (Megatron "MoE parallel
   folding": the expert layers reuse the tp*cp*dp ranks as etp*ep*edp); `strict_experts=False` (used by
   `search --run` when the published layout breaks the last condition) only asks etp*ep <= count;
7. sequence_parallel only with tp > 1 (a no-op at tp = 1, so it would duplicate a candidate);
8. distributed_optimizer only with fsdp == none (FSDP already shards the optimizer state).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from wanka.errors import ConfigError
from wanka.parallel import FSDP_MODES, RECOMPUTE_MODES, ParallelPlan, layout_valid
from wanka.search.rules import search_rules, space_problems
from wanka.workload.model import ModelSpec

__all__ = [
    "COLUMNS",
    "VPP_VALUES",
    "SpaceDims",
    "columns_to_plans",
    "contains",
    "count_candidates",
    "divisors",
    "iter_candidates",
    "memory_lower_bound",
    "plan_to_row",
    "row_to_plan",
    "space_dims",
    "space_size",
    "structural_candidates",
]

#: Virtual pipeline stages per rank tried by default: every value in the published recipes, plus 16 and 32.
VPP_VALUES: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 24, 32)

#: Column names of an emitted chunk, in order.
COLUMNS = (
    "tp",
    "pp",
    "vpp",
    "cp",
    "ep",
    "etp",
    "dp",
    "micro_batch_size",
    "fsdp",
    "distributed_optimizer",
    "sequence_parallel",
    "recompute",
)
_INT_COLS = ("tp", "pp", "vpp", "cp", "ep", "etp", "dp", "micro_batch_size")


def divisors(n: int) -> list[int]:
    """Every positive divisor of n, ascending.

    >>> divisors(12)
    [1, 2, 3, 4, 6, 12]
    """
    if n <= 0:
        raise ConfigError(f"divisors of a non-positive number ({n})")
    small = [d for d in range(1, int(n**0.5) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


@dataclass(frozen=True, slots=True, kw_only=True)
class SpaceDims:
    """One candidate list per search dimension (before pruning)."""

    tp: tuple[int, ...]
    pp: tuple[int, ...]
    cp: tuple[int, ...]
    vpp: tuple[int, ...]
    ep: tuple[int, ...]
    etp: tuple[int, ...]
    micro_batch_size: tuple[int, ...]
    fsdp: tuple[str, ...] = FSDP_MODES
    distributed_optimizer: tuple[bool, ...] = (False, True)
    sequence_parallel: tuple[bool, ...] = (False, True)
    recompute: tuple[str, ...] = RECOMPUTE_MODES
    precision: tuple[str, ...] = ("bf16",)
    strict_experts: bool = True
    """Rule 6 as Megatron-LM enforces it; False keeps layouts where etp*ep does not divide tp*cp*dp (the experts
    spread over ep ranks, as `predict` models a published run that states such a layout)."""
    extra: dict[str, int] = field(default_factory=dict)
    """Multiplicity of further dimensions (e.g. overlap flags) that the caller evaluates separately."""

    def size(self) -> int:
        """Number of candidates before pruning: the product of every list's length."""
        n = 1
        for name in (
            "tp",
            "pp",
            "cp",
            "vpp",
            "ep",
            "etp",
            "micro_batch_size",
            "fsdp",
            "distributed_optimizer",
            "sequence_parallel",
            "recompute",
            "precision",
        ):
            n *= len(getattr(self, name))
        for m in self.extra.values():
            n *= m
        return n

    def as_dict(self) -> dict[str, list]:
        return {
            name: list(getattr(self, name))
            for name in (
                "tp",
                "pp",
                "cp",
                "vpp",
                "ep",
                "etp",
                "micro_batch_size",
                "fsdp",
                "distributed_optimizer",
                "sequence_parallel",
                "recompute",
                "precision",
            )
        }


def _pick(given: Sequence | None, default: Sequence, name: str) -> tuple:
    vals = tuple(default if given is None else given)
    if not vals:
        raise ConfigError(f"search dimension {name} has no candidate values")
    return vals


def space_dims(
    model: ModelSpec,
    *,
    count: int,
    global_batch_size: int,
    precisions: Sequence[str] = ("bf16",),
    tp: Sequence[int] | None = None,
    pp: Sequence[int] | None = None,
    cp: Sequence[int] | None = None,
    vpp: Sequence[int] | None = None,
    ep: Sequence[int] | None = None,
    etp: Sequence[int] | None = None,
    micro_batch_size: Sequence[int] | None = None,
    fsdp: Sequence[str] | None = None,
    distributed_optimizer: Sequence[bool] | None = None,
    sequence_parallel: Sequence[bool] | None = None,
    recompute: Sequence[str] | None = None,
    max_etp: int | None = None,
) -> SpaceDims:
    """The default candidate lists for a model on `count` accelerators, each overridable.

    >>> from wanka.workload.model import ModelSpec
    >>> m = ModelSpec(name="t", layers=4, hidden=64, heads=8, kv_heads=8, ffn_hidden=256, vocab=100, seq_len=32)
    >>> space_dims(m, count=8, global_batch_size=8).size()
    110592
    """
    if count <= 0:
        raise ConfigError(f"count must be positive, got {count}")
    if global_batch_size <= 0:
        raise ConfigError(f"global batch size must be positive, got {global_batch_size}")
    divs = divisors(count)
    moe = model.moe is not None
    for name, vals in (("fsdp", fsdp), ("recompute", recompute)):
        allowed = FSDP_MODES if name == "fsdp" else RECOMPUTE_MODES
        bad = [v for v in (vals or ()) if v not in allowed]
        if bad:
            raise ConfigError(
                f"{name} must be one of {', '.join(allowed)}, got {', '.join(map(str, bad))}"
            )
    for name, nums in (
        ("tp", tp),
        ("pp", pp),
        ("cp", cp),
        ("vpp", vpp),
        ("ep", ep),
        ("etp", etp),
        ("micro_batch_size", micro_batch_size),
    ):
        neg = [v for v in (nums or ()) if int(v) <= 0]
        if neg:
            raise ConfigError(f"{name} values must be positive, got {neg}")
    return SpaceDims(
        tp=_pick(tp, divs, "tp"),
        pp=_pick(pp, divs, "pp"),
        cp=_pick(cp, divs, "cp"),
        vpp=_pick(vpp, VPP_VALUES, "vpp"),
        ep=_pick(ep, divs if moe else (1,), "ep"),
        etp=_pick(
            etp, [d for d in divs if max_etp is None or d <= max_etp] if moe else (1,), "etp"
        ),
        micro_batch_size=_pick(micro_batch_size, divisors(global_batch_size), "micro_batch_size"),
        fsdp=_pick(fsdp, FSDP_MODES, "fsdp"),
        distributed_optimizer=_pick(distributed_optimizer, (False, True), "distributed_optimizer"),
        sequence_parallel=_pick(sequence_parallel, (False, True), "sequence_parallel"),
        recompute=_pick(recompute, RECOMPUTE_MODES, "recompute"),
        precision=_pick(precisions, ("bf16",), "precision"),
    )


def space_size(dims: SpaceDims) -> int:
    return dims.size()


def _grid(**lists: Sequence[int]) -> dict[str, np.ndarray]:
    """Cartesian product of integer lists as flat int64 columns."""
    arrays = [np.asarray(v, dtype=np.int64) for v in lists.values()]
    mesh = np.meshgrid(*arrays, indexing="ij")
    return {k: m.ravel() for k, m in zip(lists, mesh)}


def _cross(a: dict[str, np.ndarray], name: str, values: Sequence[int]) -> dict[str, np.ndarray]:
    """Every row of `a` times every value of a new column `name`."""
    v = np.asarray(values, dtype=np.int64)
    n = len(next(iter(a.values()))) if a else 1
    out = {k: np.repeat(col, len(v)) for k, col in a.items()}
    out[name] = np.tile(v, n)
    return out


def _keep(a: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    return {k: col[mask] for k, col in a.items()}


def structural_candidates(
    model: ModelSpec, dims: SpaceDims, *, count: int, global_batch_size: int, seq_len: int
) -> dict[str, np.ndarray]:
    """Integer degrees (tp pp vpp cp ep etp dp micro_batch_size) that pass rules 1-6, as int64 columns.

    Built column by column; after each new column every rule of `search.rules.search_rules` (the
    validity rules shared with `predict`, then the space's own) that reads only the columns so far prunes.
    """
    table = search_rules(
        model, dims, count=count, global_batch_size=global_batch_size, seq_len=seq_len
    )
    done: set[str] = set()

    def prune(a: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        problems = space_problems(
            model,
            dims,
            a,
            count=count,
            global_batch_size=global_batch_size,
            seq_len=seq_len,
            skip=frozenset(done),
        )
        done.update(rule for rule, needs, _, _ in table if set(needs) <= set(a))
        return _keep(a, layout_valid(problems, len(a["tp"])))

    a = prune(_grid(tp=dims.tp, pp=dims.pp, cp=dims.cp))
    a["dp"] = count // (a["tp"] * a["pp"] * a["cp"])
    a = prune(_cross(prune(a), "vpp", dims.vpp))
    a = prune(_cross(_cross(a, "ep", dims.ep), "etp", dims.etp))
    a = prune(_cross(a, "micro_batch_size", dims.micro_batch_size))
    return {k: a[k] for k in _INT_COLS}


@dataclass(frozen=True, slots=True)
class _ParamSplit:
    dense: float
    """Parameters replicated across the expert-parallel ranks (attention, dense MLPs, embeddings, head)."""
    experts: float
    """Routed-expert parameters (split over etp*ep)."""


def _param_split(model: ModelSpec) -> _ParamSplit:
    from wanka.workload.counts import param_count

    pc = param_count(model)
    experts = float(pc.experts)
    return _ParamSplit(dense=float(pc.total) - experts, experts=experts)


#: Bytes per parameter that every training layout holds at least once: the 16-bit weights. Master weights,
#: gradients and optimizer moments are left out, so the bound stays below any honest memory model.
WEIGHT_BYTES_MIN = 2.0
#: Bytes per activation element of a stored layer input (bf16).
ACT_BYTES_MIN = 2.0


def memory_lower_bound(
    model: ModelSpec,
    cols: dict[str, np.ndarray],
    *,
    count: int,
    seq_len: int,
    split: _ParamSplit | None = None,
) -> np.ndarray:
    """A cheap lower bound of the peak memory per accelerator (bytes) of each candidate.

    Only what every layout must hold: its share of the 16-bit weights (sharded over tp*pp, experts over
    etp*ep*pp, everything over all `count` ranks with fsdp=full) plus one micro-batch's layer inputs for its
    pipeline stage (what full recompute keeps), sharded over tp*cp. A candidate whose bound exceeds the
    accelerator's memory cannot fit under any model of memory, so it is pruned before timing.
    """
    ps = split or _param_split(model)
    tp, pp, cp, ep, etp = (cols[k].astype(np.float64) for k in ("tp", "pp", "cp", "ep", "etp"))
    weights = ps.dense / (tp * pp) + ps.experts / (etp * ep * pp)
    weights = np.where(cols["fsdp"] == 2, (ps.dense + ps.experts) / count, weights)
    layers_per_stage = np.ceil(model.layers / pp)
    acts = (
        layers_per_stage
        * cols["micro_batch_size"]
        * (seq_len / cp)
        * model.hidden
        * ACT_BYTES_MIN
        / tp
    )
    return weights * WEIGHT_BYTES_MIN + acts


def _flag_combos(dims: SpaceDims) -> list[tuple[int, bool, bool, int]]:
    """(fsdp code, distributed_optimizer, sequence_parallel, recompute code) combinations passing rule 8."""
    out = []
    for f, do, sp, r in itertools.product(
        dims.fsdp, dims.distributed_optimizer, dims.sequence_parallel, dims.recompute
    ):
        if do and f != "none":  # rule 8
            continue
        out.append((FSDP_MODES.index(f), bool(do), bool(sp), RECOMPUTE_MODES.index(r)))
    return out


def iter_candidates(
    model: ModelSpec,
    dims: SpaceDims,
    *,
    count: int,
    global_batch_size: int,
    seq_len: int,
    chunk_size: int = 200_000,
    part: int = 0,
    nparts: int = 1,
    structural: dict[str, np.ndarray] | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """Yield the pruned candidates (all 12 columns) in chunks of at most `chunk_size` rows.

    With `nparts` > 1 only the chunks whose running index is `part` modulo `nparts` are built and yielded
    (the others are skipped without materialising them), so parallel workers split one space.
    Precision is not a column: the caller evaluates each precision in `dims.precision` separately.
    `structural` reuses a `structural_candidates` result computed once by the caller.
    """
    s = (
        structural
        if structural is not None
        else structural_candidates(
            model, dims, count=count, global_batch_size=global_batch_size, seq_len=seq_len
        )
    )
    n = len(s["tp"])
    if n == 0:
        return
    all_rows = np.arange(n)
    tp_rows = np.flatnonzero(s["tp"] > 1)
    # (structural row, flag combo) pairs, streamed in chunks that may span several flag combinations
    pieces: list[tuple[np.ndarray, tuple[int, bool, bool, int]]] = []
    pending = 0
    index = 0

    def emit(parts: list[tuple[np.ndarray, tuple[int, bool, bool, int]]]) -> dict[str, np.ndarray]:
        idx = np.concatenate([p for p, _ in parts])
        chunk = {c: s[c][idx] for c in _INT_COLS}
        chunk["fsdp"] = np.concatenate([np.full(len(p), f[0], dtype=np.int8) for p, f in parts])
        chunk["distributed_optimizer"] = np.concatenate(
            [np.full(len(p), f[1], dtype=bool) for p, f in parts]
        )
        chunk["sequence_parallel"] = np.concatenate(
            [np.full(len(p), f[2], dtype=bool) for p, f in parts]
        )
        chunk["recompute"] = np.concatenate(
            [np.full(len(p), f[3], dtype=np.int8) for p, f in parts]
        )
        return chunk

    for combo in _flag_combos(dims):
        rows = tp_rows if combo[2] else all_rows  # rule 7
        start = 0
        while start < len(rows):
            take = min(chunk_size - pending, len(rows) - start)
            pieces.append((rows[start : start + take], combo))
            pending += take
            start += take
            if pending >= chunk_size:
                if index % nparts == part:
                    yield emit(pieces)
                index += 1
                pieces, pending = [], 0
    if pending and index % nparts == part:
        yield emit(pieces)


def count_candidates(
    model: ModelSpec,
    dims: SpaceDims,
    *,
    count: int,
    global_batch_size: int,
    seq_len: int,
    structural: dict[str, np.ndarray] | None = None,
) -> int:
    """Number of candidates left after divisibility pruning, per precision (without materialising them)."""
    s = (
        structural
        if structural is not None
        else structural_candidates(
            model, dims, count=count, global_batch_size=global_batch_size, seq_len=seq_len
        )
    )
    n, n_tp = len(s["tp"]), int((s["tp"] > 1).sum())
    return sum(n_tp if sp else n for _, _, sp, _ in _flag_combos(dims))


def plan_to_row(plan: ParallelPlan) -> dict[str, int | bool]:
    """One ParallelPlan as a row of the column layout above."""
    return {
        "tp": plan.tp,
        "pp": plan.pp,
        "vpp": plan.vpp,
        "cp": plan.cp,
        "ep": plan.ep,
        "etp": plan.etp,
        "dp": plan.dp,
        "micro_batch_size": plan.micro_batch_size,
        "fsdp": FSDP_MODES.index(plan.fsdp),
        "distributed_optimizer": bool(plan.distributed_optimizer),
        "sequence_parallel": bool(plan.sequence_parallel),
        "recompute": RECOMPUTE_MODES.index(plan.recompute),
    }


def row_to_plan(row: dict, *, global_batch_size: int) -> ParallelPlan:
    """A row (column name -> scalar) back into a ParallelPlan."""
    return ParallelPlan(
        tp=int(row["tp"]),
        pp=int(row["pp"]),
        vpp=int(row["vpp"]),
        cp=int(row["cp"]),
        ep=int(row["ep"]),
        etp=int(row["etp"]),
        dp=int(row["dp"]),
        fsdp=FSDP_MODES[int(row["fsdp"])],
        distributed_optimizer=bool(row["distributed_optimizer"]),
        sequence_parallel=bool(row["sequence_parallel"]),
        recompute=RECOMPUTE_MODES[int(row["recompute"])],
        micro_batch_size=int(row["micro_batch_size"]),
        global_batch_size=int(global_batch_size),
    )


def columns_to_plans(cols: dict[str, np.ndarray], *, global_batch_size: int) -> list[ParallelPlan]:
    n = len(cols["tp"])
    return [
        row_to_plan({k: cols[k][i] for k in COLUMNS}, global_batch_size=global_batch_size)
        for i in range(n)
    ]


def contains(
    model: ModelSpec, dims: SpaceDims, plan: ParallelPlan, *, count: int, seq_len: int
) -> bool:
    """Whether `plan` is one of the pruned candidates of `dims` (its global batch size taken from the plan):
    it breaks no rule of `search.rules.space_problems`."""
    row = {k: np.asarray([v]) for k, v in plan_to_row(plan).items()}
    problems = space_problems(
        model, dims, row, count=count, global_batch_size=plan.global_batch_size, seq_len=seq_len
    )
    return bool(layout_valid(problems, 1)[0])

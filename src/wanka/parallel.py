"""Parallel plans: Megatron-named degrees, validated against a model and an accelerator count.

Glossary (Megatron-LM names): tp tensor, pp pipeline, vpp virtual pipeline stages per rank (1 = plain 1F1B),
cp context, ep expert, etp expert-tensor, dp data parallel. `fsdp` none|grad_op|full (ZeRO-2/ZeRO-3-like
sharding), `recompute` none|selective|full. tp*pp*cp*dp = world size; the expert layers reuse the same ranks
as etp*ep*edp = tp*cp*dp (Megatron's "MoE parallel folding").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from wanka.errors import ConfigError
from wanka.workload.model import ModelSpec

__all__ = [
    "DEGREES",
    "FOLD",
    "FSDP_MODES",
    "RECOMPUTE_MODES",
    "ParallelPlan",
    "Problem",
    "Rule",
    "apply_rules",
    "layout_problems",
    "layout_reasons",
    "layout_valid",
    "validity_rules",
]

FsdpMode = Literal["none", "grad_op", "full"]
RecomputeMode = Literal["none", "selective", "full"]
FSDP_MODES: tuple[FsdpMode, ...] = ("none", "grad_op", "full")
RECOMPUTE_MODES: tuple[RecomputeMode, ...] = ("none", "selective", "full")
#: The integer columns a layout is made of (Megatron names), as `layout_problems` reads them.
DEGREES = ("tp", "pp", "vpp", "cp", "ep", "etp", "dp", "micro_batch_size")


@dataclass(frozen=True, slots=True, kw_only=True)
class ParallelPlan:
    """One parallel layout with every degree resolved (no nulls)."""

    tp: int = 1
    pp: int = 1
    vpp: int = 1
    cp: int = 1
    ep: int = 1
    etp: int = 1
    dp: int = 1
    fsdp: FsdpMode = "none"
    distributed_optimizer: bool = True
    sequence_parallel: bool = False
    recompute: RecomputeMode = "none"
    micro_batch_size: int = 1
    global_batch_size: int = 1

    def __post_init__(self) -> None:
        for name in (
            "tp",
            "pp",
            "vpp",
            "cp",
            "ep",
            "etp",
            "dp",
            "micro_batch_size",
            "global_batch_size",
        ):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ConfigError(f"parallelism.{name} must be a positive integer, got {v!r}")
        if self.fsdp not in FSDP_MODES:
            raise ConfigError(
                f"parallelism.fsdp must be one of {', '.join(FSDP_MODES)}, got {self.fsdp!r}"
            )
        if self.recompute not in RECOMPUTE_MODES:
            raise ConfigError(
                f"parallelism.recompute must be one of {', '.join(RECOMPUTE_MODES)}, "
                f"got {self.recompute!r}"
            )

    @property
    def world_size(self) -> int:
        return self.tp * self.pp * self.cp * self.dp

    @property
    def num_microbatches(self) -> int:
        """Micro-batches per step per data-parallel rank: global / (micro * dp)."""
        return self.global_batch_size // (self.micro_batch_size * self.dp)

    def check(
        self,
        *,
        count: int,
        model: ModelSpec,
        seq_len: int | None = None,
        strict_experts: bool = True,
    ) -> list[str]:
        """Raise ConfigError naming every reason this plan cannot run `model` on `count` accelerators.

        The rules are `layout_problems` (the one home shared with `perf` and `search`). With
        `strict_experts=False` an expert layout that Megatron-LM would reject (etp*ep not dividing
        tp*cp*dp) is returned as a warning instead, so a published run that states it is still predicted.
        """
        problems = layout_problems(
            model,
            self,
            count=count,
            global_batch_size=self.global_batch_size,
            seq_len=model.seq_len if seq_len is None else seq_len,
            strict_experts=strict_experts,
        )
        errors = layout_reasons(problems, 0, fatal=True)
        if errors:
            raise ConfigError("; ".join(errors))
        return [
            r + "; modelled as stated (experts spread over ep ranks)"
            for r in layout_reasons(problems, 0, fatal=False)
        ]


# --------------------------------------------------------------------------------------------- validity
# One home for layout validity: `predict` (through `ParallelPlan.check` and `perf.evaluate`), `search`
# (its structural pruning) and the simulator all ask `layout_problems`.


#: A rule: (id, columns it reads, columns -> bad mask, row values -> reason).
Rule = tuple[str, tuple[str, ...], Callable[..., Any], Callable[..., str]]


@dataclass(frozen=True, slots=True)
class Problem:
    """One rule a set of layouts breaks: which rows (`bad`) and, per row, why."""

    rule: str
    """Short rule id (`world`, `heads`, `kv_heads`, `mamba`, `batch`, `pp_layers`, `chunks`, `vpp`, ...)."""
    bad: NDArray[np.bool_]
    describe: Callable[[int], str]
    """Reason for row i, with that row's degrees."""
    fatal: bool = True
    """False for a rule relaxed to a warning (`strict_experts=False`): the layout is still modelled."""


def _cols(cols: Mapping[str, Any] | Any, names: tuple[str, ...]) -> dict[str, NDArray[np.int64]]:
    """The integer columns `names` of `cols` (a mapping or anything with those attributes)."""
    get = cols.get if isinstance(cols, Mapping) else (lambda k: getattr(cols, k, None))
    out = {}
    for k in names:
        v = get(k)
        if v is not None:
            out[k] = np.atleast_1d(np.asarray(v)).astype(np.int64)
    return out


def _rule_table(model: ModelSpec, count: int, gbs: int, seq_len: int) -> list[Rule]:
    """(rule id, columns it reads, bad-mask function, reason function) in reporting order."""
    return _degree_rules(model, count) + _split_rules(model, gbs, seq_len)


def _degree_rules(model: ModelSpec, count: int) -> list[Rule]:
    """Degrees >= 1, their product, and what TP splits (heads, GQA groups, Mamba heads and groups)."""
    H, KV = model.heads, model.kv_heads
    rules: list[Rule] = [
        (
            "positive",
            DEGREES,
            lambda c: np.logical_or.reduce([c[k] < 1 for k in DEGREES]),
            lambda r: "every degree and micro_batch_size must be >= 1",
        ),
        (
            "world",
            ("tp", "pp", "cp", "dp"),
            lambda c: c["tp"] * c["pp"] * c["cp"] * c["dp"] != count,
            lambda r: (
                f"tp*pp*cp*dp = {r['tp']}*{r['pp']}*{r['cp']}*{r['dp']} = "
                f"{r['tp'] * r['pp'] * r['cp'] * r['dp']} does not equal the accelerator count {count}"
            ),
        ),
        (
            "heads",
            ("tp",),
            lambda c: H % np.maximum(c["tp"], 1) != 0,
            lambda r: f"heads ({H}) must be divisible by tp ({r['tp']})",
        ),
    ]
    if (
        model.mla is None
    ):  # GQA groups split over TP, or replicated when tp > kv_heads (Megatron/TE)
        rules.append(
            (
                "kv_heads",
                ("tp",),
                lambda c: (KV % np.maximum(c["tp"], 1) != 0) & (c["tp"] % KV != 0),
                lambda r: f"kv_heads ({KV}) and tp ({r['tp']}) must divide one another",
            )
        )
    if model.mamba is not None:  # Megatron MambaMixer splits heads and B/C groups over TP
        mh, mg = model.mamba.heads, model.mamba.groups
        rules.append(
            (
                "mamba",
                ("tp",),
                lambda c: (mh % np.maximum(c["tp"], 1) != 0) | (mg % np.maximum(c["tp"], 1) != 0),
                lambda r: (
                    f"mamba heads ({mh}) and groups ({mg}) must be divisible by tp ({r['tp']})"
                ),
            )
        )
    return rules


def _split_rules(model: ModelSpec, gbs: int, seq_len: int) -> list[Rule]:
    """What DP, PP, CP and EP split: the batch, the layers, the sequence, the experts."""
    L = model.layers
    rules: list[Rule] = [
        (
            "batch",
            ("micro_batch_size", "dp"),
            lambda c: gbs % np.maximum(c["micro_batch_size"] * c["dp"], 1) != 0,
            lambda r: (
                f"global_batch_size ({gbs}) must be divisible by micro_batch_size*dp "
                f"({r['micro_batch_size']}*{r['dp']})"
            ),
        ),
        (
            "pp_layers",
            ("pp",),
            lambda c: c["pp"] > L,
            lambda r: f"pp ({r['pp']}) exceeds the number of layers ({L})",
        ),
        (
            "vpp",
            ("pp", "vpp"),
            lambda c: (c["vpp"] > 1) & (c["pp"] < 2),
            lambda r: "vpp > 1 needs pp > 1 (interleaving splits each pipeline rank's layers)",
        ),
        # Megatron-LM may count the embedding and the loss as pipeline layers
        # (account_for_embedding_in_pipeline_split / account_for_loss_in_pipeline_split).
        (
            "chunks",
            ("pp", "vpp"),
            lambda c: c["pp"] * c["vpp"] > L + 2,
            lambda r: f"pp*vpp ({r['pp']}*{r['vpp']}) exceeds the number of layers ({L}) + 2",
        ),
        (
            "seq_cp",
            ("cp",),
            lambda c: seq_len % np.maximum(c["cp"], 1) != 0,
            lambda r: f"seq_len ({seq_len}) must be divisible by cp ({r['cp']})",
        ),
    ]
    if model.moe is None:
        rules.append(
            (
                "ep_dense",
                ("ep",),
                lambda c: c["ep"] > 1,
                lambda r: f"ep ({r['ep']}) > 1 needs a mixture-of-experts model",
            )
        )
    else:
        E = model.moe.experts
        rules.append(
            (
                "experts",
                ("ep",),
                lambda c: E % np.maximum(c["ep"], 1) != 0,
                lambda r: f"experts ({E}) must be divisible by ep ({r['ep']})",
            )
        )
    return rules


def _fold_rule() -> Rule:
    """Megatron "MoE parallel folding": the expert layers reuse the tp*cp*dp ranks as etp*ep*edp."""
    return (
        "expert_fold",
        ("tp", "cp", "dp", "ep", "etp"),
        lambda c: (c["tp"] * c["cp"] * c["dp"]) % np.maximum(c["ep"] * c["etp"], 1) != 0,
        lambda r: (
            f"etp*ep ({r['etp']}*{r['ep']}) must divide tp*cp*dp ({r['tp']}*{r['cp']}*{r['dp']})"
        ),
    )


#: The rule that `strict_experts=False` relaxes to a warning.
FOLD = frozenset({"expert_fold"})


def validity_rules(
    model: ModelSpec, *, count: int, global_batch_size: int, seq_len: int
) -> list[Rule]:
    """The validity rules of layouts of `model` on `count` accelerators, in reporting order."""
    table = _rule_table(model, count, global_batch_size, seq_len)
    if model.moe is not None:
        table.append(_fold_rule())
    return table


def layout_problems(
    model: ModelSpec,
    cols: Mapping[str, Any] | Any,
    *,
    count: int,
    global_batch_size: int,
    seq_len: int,
    strict_experts: bool = True,
    skip: frozenset[str] = frozenset(),
) -> list[Problem]:
    """Every rule that some of the layouts in `cols` break, vectorised (one home for layout validity).

    `cols` maps the `DEGREES` names (tp pp vpp cp ep etp dp micro_batch_size) to equal-length arrays (a
    dict of columns, a `perf.PlanArrays`, or a `ParallelPlan`). A rule whose columns are missing is not
    checked, so a caller that builds layouts column by column (the search) can prune as it goes; `skip`
    names rules already applied. The rules: degrees >= 1; tp*pp*cp*dp = count; heads % tp; kv_heads and tp
    divide one another (not for MLA); Mamba heads and groups % tp; global batch % (micro batch * dp);
    pp <= layers; vpp > 1 needs pp > 1; pp*vpp <= layers + 2; seq_len % cp; ep > 1 only for MoE;
    experts % ep; etp*ep divides tp*cp*dp (a warning, not an error, with `strict_experts=False`).
    Only rules that at least one row breaks are returned.
    """
    table = validity_rules(model, count=count, global_batch_size=global_batch_size, seq_len=seq_len)
    return apply_rules(table, cols, skip=skip, warn=frozenset() if strict_experts else FOLD)


def apply_rules(
    table: list[Rule],
    cols: Mapping[str, Any] | Any,
    *,
    skip: frozenset[str] = frozenset(),
    warn: frozenset[str] = frozenset(),
    names: tuple[str, ...] = DEGREES,
) -> list[Problem]:
    """The `Problem`s of `table`'s rules on `cols` (rules with a missing column or in `skip` unchecked)."""
    c = _cols(cols, names)
    out: list[Problem] = []
    for rule, needs, bad_fn, why in table:
        if rule in skip or any(k not in c for k in needs):
            continue
        bad = np.asarray(bad_fn(c), dtype=np.bool_)
        if bad.any():

            def describe(i: int, why: Callable[..., str] = why) -> str:
                return why({k: int(v[i]) for k, v in c.items()})

            out.append(Problem(rule, bad, describe, rule not in warn))
    return out


def layout_valid(problems: list[Problem], n: int) -> NDArray[np.bool_]:
    """Rows that break no fatal rule."""
    ok = np.ones(n, dtype=np.bool_)
    for p in problems:
        if p.fatal:
            ok &= ~p.bad
    return ok


def layout_reasons(problems: list[Problem], i: int, *, fatal: bool | None = None) -> list[str]:
    """Why row `i` is not valid (every reason, in rule order); `fatal` selects errors or warnings."""
    return [
        p.describe(i) for p in problems if bool(p.bad[i]) and (fatal is None or p.fatal == fatal)
    ]

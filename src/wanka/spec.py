"""Run specs: the input of `wanka predict` (format in docs/design.md), parsed into frozen records.

A file holds one run (a mapping) or a list of runs. Unknown keys are an error. `null` means "not stated":
the loader applies the documented default below and records it in `RunSpec.assumptions`.

Defaults for null fields (each recorded as an assumption when applied):
- model fields missing from a model whose layers/hidden/heads (and expert count) equal a shipped preset are
  taken from that preset (vocab, kv_heads, activation, MLA shape, ...), since the name alone is not parsed;
- otherwise: kv_heads = heads (multi-head attention); ffn_hidden = 4*hidden; vocab = 51,200 (GPT-2 BPE
  50,257 padded as Megatron-LM pads it); activation = gelu when ffn_hidden == 4*hidden (GPT-style), else swiglu;
- gpus_per_node = the accelerator's node size in the catalog;
- tp = pp = vpp = cp = ep = 1; etp = 1 (Megatron-Bridge MoE recipes set expert_tensor_parallel_size: 1);
  dp = count / (tp*pp*cp);
- sequence_parallel = (tp > 1), as Megatron-Bridge/NeMo recipes set it;
- distributed_optimizer = (fsdp == none), the Megatron-Bridge/NeMo recipe default;
- recompute = none; fsdp = none; micro_batch_size = 1; global_batch_size = micro_batch_size * dp;
- precision = bf16.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from wanka.catalogs import get_accelerator
from wanka.errors import ConfigError, WankaError
from wanka.hardware import PRECISIONS, Accelerator
from wanka.parallel import ParallelPlan
from wanka.userfile import read_data
from wanka.workload.frameworks import (
    PP_SCHEDULES,
    Framework,
    framework_from_source,
    get_framework,
)
from wanka.workload.model import MLASpec, ModelSpec, MoESpec

__all__ = [
    "HardwareSpec",
    "RunError",
    "RunSpec",
    "check_mapping",
    "load_runs",
    "model_from_mapping",
    "parse_run",
    "read_spec_file",
]

_RUN_KEYS = set("id model hardware parallelism precision measured source framework".split())
_MODEL_KEYS = set(
    "name type params_b active_params_b notes layers hidden heads kv_heads ffn_hidden vocab "
    "seq_len moe head_dim activation tied_embeddings mla mtp_layers learned_positions preset "
    "hf_config gated_mlp sliding_window attention_layer_pattern".split()
)
_MOE_KEYS = set(
    "experts top_k expert_ffn shared_experts shared_expert_ffn dense_layers capacity_factor "
    "router_bias".split()
)
_MLA_KEYS = {"q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"}
_HW_KEYS = {"accelerator", "count", "gpus_per_node", "system"}
_PAR_KEYS = set(
    "tp pp vpp cp ep etp dp fsdp distributed_optimizer sequence_parallel recompute "
    "micro_batch_size global_batch_size pipeline_parallel_microbatch_size tp_comm_overlap "
    "pipeline_schedule".split()
)
DEFAULT_VOCAB = (
    51200  # GPT-2 BPE (50,257) padded to a multiple of 1,024 as Megatron-LM does at tp=8
)


@dataclass(frozen=True, slots=True, kw_only=True)
class HardwareSpec:
    accelerator: Accelerator
    count: int
    gpus_per_node: int
    system: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSpec:
    """One training run: model, hardware, resolved parallel plan and precision."""

    id: str | None
    model: ModelSpec
    hardware: HardwareSpec
    parallelism: ParallelPlan
    precision: str
    assumptions: tuple[str, ...] = ()
    measured: dict[str, Any] | None = None
    source: str | None = None
    framework: str | None = None
    """Id of the framework whose semantics apply (`wanka.workload.frameworks`); the run-spec loader always
    sets one. None (a RunSpec built in code): no framework adjustment, the step model's own defaults."""
    recompute_stated: bool = True
    """False when the run left `parallelism.recompute` null: the predictor may infer it (frameworks)."""
    tp_comm_overlap: bool | None = None
    """`parallelism.tp_comm_overlap` as stated (Megatron `--tp-comm-overlap`); None = the framework's
    default (`Framework.tp_comm_overlap`)."""
    pipeline_schedule: str | None = None
    """`parallelism.pipeline_schedule` as stated (1f1b | zb-h1 | dualpipe); None = the framework's
    default (`Framework.pipeline_schedule`)."""


@dataclass(frozen=True, slots=True)
class RunError:
    """A run that could not be read; `error` is one line meant for the user."""

    id: str | None
    error: str


def check_mapping(
    where: str, d: Any, allowed: set[str], required: set[str] | frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Return `d` if it is a mapping with only `allowed` keys and every `required` one; else a ConfigError.

    The one strict-keys check for user files (run specs, centre, sweep, cluster and profile files).
    """
    if not isinstance(d, dict):
        raise ConfigError(f"{where} must be a mapping, got {type(d).__name__}")
    unknown = set(d) - allowed
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
    missing = set(required) - set(d)
    if missing:
        raise ConfigError(f"{where}: missing key(s) {', '.join(sorted(missing))}")
    return d


_check_keys = check_mapping


def _int(where: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or int(v) != v:
        raise ConfigError(f"{where} must be an integer, got {v!r}")
    if v <= 0:
        raise ConfigError(f"{where} must be positive, got {v!r}")
    return int(v)


def _matching_preset(d: dict[str, Any]) -> tuple[str, ModelSpec] | None:
    """The shipped preset with the same shape, if exactly one.

    Same layers, hidden, heads and expert count, and no stated field that contradicts the preset (an
    MPT-13B has Llama 2 13B's layers/hidden/heads but a 4*hidden GELU MLP: not a match).
    """
    from wanka.workload.presets import models

    experts = (d.get("moe") or {}).get("experts")

    def agrees(m: ModelSpec) -> bool:
        for k in ("kv_heads", "ffn_hidden", "vocab", "head_dim", "activation", "layer_pattern"):
            if d.get(k) is not None and getattr(m, k) is not None and d[k] != getattr(m, k):
                return False
        return True

    hits = [
        (pid, m)
        for pid, m in models().items()
        if (m.layers, m.hidden, m.heads) == (d.get("layers"), d.get("hidden"), d.get("heads"))
        and (m.moe.experts if m.moe else None) == experts
        and agrees(m)
    ]
    names = {m for _, m in hits}
    return hits[0] if len(names) == 1 else None


def _moe_from_mapping(moe: dict[str, Any], ffn_hidden: Any, notes: list[str]) -> MoESpec:
    """MoESpec from `model.moe`; `expert_ffn` null is derived from `ffn_hidden` (Mixtral, Grok-1: each
    expert is a full-width MLP, `moe_intermediate_size` = `intermediate_size`) and noted; any other
    missing field is a one-line error naming it."""
    _check_keys("model.moe", moe, _MOE_KEYS)
    fields = {k: v for k, v in moe.items() if v is not None}
    for k in ("experts", "top_k"):
        if k not in fields:
            raise ConfigError(f"model.moe.{k} is required (the number of {k.replace('_', '-')})")
        fields[k] = _int(f"model.moe.{k}", fields[k])
    if "expert_ffn" not in fields:
        if ffn_hidden is None:
            raise ConfigError(
                "model.moe.expert_ffn is required when model.ffn_hidden is not given "
                "(the width of one expert's MLP)"
            )
        fields["expert_ffn"] = _int("model.ffn_hidden", ffn_hidden)
        notes.append(
            f"model.moe.expert_ffn null: ffn_hidden = {fields['expert_ffn']} "
            "(each expert a full-width MLP, as in Mixtral and Grok-1)"
        )
    try:
        return MoESpec(**fields)
    except TypeError as e:  # a value of the wrong kind for a MoESpec field
        raise ConfigError(f"model.moe: {e}") from None


def _gated_mlp(d: dict[str, Any], base: ModelSpec | None) -> None:
    """Resolve `model.gated_mlp` (true: three-matrix SwiGLU MLP; false: two-matrix GELU) into
    `activation`; a contradicting `activation` is an error."""
    gated = d.pop("gated_mlp", None)
    if gated is None:
        return
    if not isinstance(gated, bool):
        raise ConfigError(f"model.gated_mlp must be true or false, got {gated!r}")
    act = d.get("activation")
    if act is None:
        cur = base.activation if base is not None else None
        if cur is not None and (cur in ("swiglu", "geglu")) == gated:
            return
        d["activation"] = "swiglu" if gated else "gelu"
    elif (act in ("swiglu", "geglu")) != gated:
        raise ConfigError(
            f"model.gated_mlp is {str(gated).lower()} but model.activation {act!r} is "
            f"{'not ' if gated else ''}gated; drop one of them"
        )


def model_from_mapping(
    d: dict[str, Any], *, base_dir: Path | None = None, assumptions: list[str] | None = None
) -> ModelSpec:
    """Build a ModelSpec from a run spec's `model` block (explicit fields, `preset`, or `hf_config`)."""
    notes = assumptions if assumptions is not None else []
    d = dict(_check_keys("model", d, _MODEL_KEYS | {"layer_pattern", "mamba"}))  # + hybrid models
    base = _base_model(d, base_dir)
    for k in ("params_b", "active_params_b", "notes"):  # descriptive only
        d.pop(k, None)
    _gated_mlp(d, base)
    if base is None:
        missing = [k for k in ("layers", "hidden", "heads", "seq_len") if d.get(k) is None]
        if missing:
            raise ConfigError(
                f"model: {', '.join(missing)} required (or give model.preset / model.hf_config)"
            )
        _fill_from_preset(d, notes)
    moe, mla = _moe_mla_mamba(d, base, notes)
    fields = {k: v for k, v in d.items() if v is not None}
    if base is not None:
        if moe is not None:
            fields["moe"] = moe
        if mla is not None:
            fields["mla"] = mla
        return replace(base, **fields)
    return _new_model(fields, moe, mla, notes)


def _base_model(d: dict[str, Any], base_dir: Path | None) -> ModelSpec | None:
    """The model `model.preset` or `model.hf_config` names (both keys popped from `d`), else None."""
    base: ModelSpec | None = None
    if d.get("preset") is not None:
        from wanka.workload.presets import get_model

        base = get_model(str(d.pop("preset")))
    elif d.get("hf_config") is not None:
        from wanka.workload.hf import from_hf_config

        p = Path(str(d.pop("hf_config")))
        base = from_hf_config(p if p.is_absolute() or base_dir is None else base_dir / p)
    d.pop("preset", None), d.pop("hf_config", None)
    return base


#: Fields an explicit model shape takes from the one preset it matches, when not given.
_PRESET_FILL = tuple(
    "kv_heads ffn_hidden vocab head_dim activation tied_embeddings mla layer_pattern mamba".split()
)


def _fill_from_preset(d: dict[str, Any], notes: list[str]) -> None:
    """An explicit shape that matches exactly one preset takes that preset's missing fields (noted)."""
    hit = _matching_preset(d)
    if not hit:
        return
    pid, pm = hit
    filled = []
    for k in _PRESET_FILL:
        if d.get(k) is None and getattr(pm, k) is not None:
            d[k] = getattr(pm, k)
            filled.append(k)
    if filled:
        notes.append(f"model shape matches preset {pid}: took {', '.join(filled)} from it")


def _moe_mla_mamba(d: dict[str, Any], base: ModelSpec | None, notes: list[str]) -> tuple[Any, Any]:
    """Pop `moe` and `mla` from `d` as specs (returned) and turn `mamba` into a MambaSpec in `d`."""
    moe = d.pop("moe", None)
    mla = d.pop("mla", None)
    if isinstance(moe, dict):
        ffn = d.get("ffn_hidden") or (base.ffn_hidden if base is not None else None)
        moe = _moe_from_mapping(moe, ffn, notes)
    if isinstance(mla, dict):
        _check_keys("model.mla", mla, _MLA_KEYS)
        mla = MLASpec(**mla)
    mamba = d.pop("mamba", None)
    if isinstance(mamba, dict):
        from wanka.workload.model import MambaSpec

        _check_keys(
            "model.mamba",
            mamba,
            {"heads", "head_dim", "state_size", "groups", "conv_kernel", "chunk_size", "conv_bias"},
        )
        mamba = MambaSpec(**{k: v for k, v in mamba.items() if v is not None})
    if mamba is not None:
        d["mamba"] = mamba
    return moe, mla


_INT_FIELDS = frozenset(
    "layers hidden heads kv_heads ffn_hidden vocab seq_len head_dim sliding_window".split()
)


def _new_model(fields: dict[str, Any], moe: Any, mla: Any, notes: list[str]) -> ModelSpec:
    """A model from explicit fields alone; each default taken is noted."""
    heads, hidden = fields["heads"], fields["hidden"]
    if "kv_heads" not in fields:
        fields["kv_heads"] = heads
        notes.append("model.kv_heads null: multi-head attention (kv_heads = heads)")
    if "ffn_hidden" not in fields:
        fields["ffn_hidden"] = 4 * hidden
        notes.append(f"model.ffn_hidden null: 4*hidden = {4 * hidden}")
    if "vocab" not in fields:
        fields["vocab"] = DEFAULT_VOCAB
        notes.append(f"model.vocab null: {DEFAULT_VOCAB} (GPT-2 BPE padded, Megatron-LM)")
    if "activation" not in fields:
        gpt_style = fields["ffn_hidden"] == 4 * hidden and moe is None
        fields["activation"] = "gelu" if gpt_style else "swiglu"
        notes.append(
            f"model.activation null: {fields['activation']} "
            f"({'ffn_hidden = 4*hidden, GPT-style' if gpt_style else 'ffn_hidden != 4*hidden, gated'})"
        )
    mtype: Any = fields.pop("type", None) or ("moe" if moe else "dense")
    name = str(fields.pop("name", "model"))
    rest: dict[str, Any] = {
        k: (_int(f"model.{k}", v) if k in _INT_FIELDS else v) for k, v in fields.items()
    }
    return ModelSpec(name=name, type=mtype, moe=moe, mla=mla, **rest)


_LAYOUT_KEYS = ("tp", "pp", "cp", "ep", "etp", "dp", "fsdp")


def _plan(
    d: dict[str, Any], *, count: int, model: ModelSpec, notes: list[str], fw: Framework
) -> ParallelPlan:
    d = dict(_check_keys("parallelism", d or {}, _PAR_KEYS))
    if fw.default_fsdp and all(d.get(k) is None for k in _LAYOUT_KEYS):
        d["fsdp"] = "full"
        notes.append(
            f"parallelism: no layout stated: FSDP over all {count} devices ({fw.label} default)"
        )
    g: dict[str, Any] = {}
    for k in ("tp", "pp", "vpp", "cp", "ep", "micro_batch_size"):
        if d.get(k) is None:
            g[k] = 1
            if k in ("ep",) and model.moe is not None or k == "micro_batch_size":
                notes.append(f"parallelism.{k} null: 1")
        else:
            g[k] = _int(f"parallelism.{k}", d[k])
    if g["vpp"] > 1 and g["pp"] == 1:
        notes.append(f"parallelism.vpp {g['vpp']} with pp 1: no pipeline to interleave, vpp = 1")
        g["vpp"] = 1
    g["etp"] = 1 if d.get("etp") is None else _int("parallelism.etp", d["etp"])
    if d.get("etp") is None and model.moe is not None:
        notes.append("parallelism.etp null: 1 (Megatron-Bridge MoE recipes)")
    inner = g["tp"] * g["pp"] * g["cp"]
    if d.get("dp") is None:
        if count % inner:
            raise ConfigError(
                f"count ({count}) is not divisible by tp*pp*cp ({g['tp']}*{g['pp']}*{g['cp']})"
            )
        g["dp"] = count // inner
    else:
        g["dp"] = _int("parallelism.dp", d["dp"])
    g["fsdp"] = d.get("fsdp") or "none"
    g["recompute"] = d.get("recompute") or "none"
    if d.get("recompute") is None:
        notes.append(
            "parallelism.recompute null: none"
            + (
                f", or the least of {'/'.join(fw.infer_recompute)} that fits (inferred at prediction)"
                if fw.infer_recompute
                else ""
            )
        )
    sp = d.get("sequence_parallel")
    g["sequence_parallel"] = bool(g["tp"] > 1) if sp is None else bool(sp)
    if sp is None and g["tp"] > 1:
        notes.append(
            "parallelism.sequence_parallel null: true because tp > 1 (Megatron-Bridge/NeMo recipes)"
        )
    do = d.get("distributed_optimizer")
    g["distributed_optimizer"] = (g["fsdp"] == "none") if do is None else bool(do)
    if do is None:
        notes.append(
            f"parallelism.distributed_optimizer null: {str(g['distributed_optimizer']).lower()} "
            "(Megatron-Bridge/NeMo default when not using FSDP)"
        )
    _batch(d, g, count=count, notes=notes, fw=fw)
    plan = ParallelPlan(**g)
    notes += plan.check(count=count, model=model, strict_experts=False)
    return plan


def _batch(
    d: dict[str, Any], g: dict[str, Any], *, count: int, notes: list[str], fw: Framework
) -> None:
    """Set g's `micro_batch_size` (pipeline micro-batch per DP rank) and `global_batch_size` from the
    run's batch fields read with the framework's meaning (`wanka.workload.frameworks`)."""
    gbs = d.get("global_batch_size")
    mbs = g["micro_batch_size"]
    pmb = d.get("pipeline_parallel_microbatch_size")
    if pmb is not None and fw.batch != "local":
        raise ConfigError(
            "parallelism.pipeline_parallel_microbatch_size is a torchtitan field; with "
            f"framework {fw.id} give micro_batch_size (the pipeline micro-batch)"
        )
    if fw.batch == "local":  # torchtitan: local batch per DP rank, cut into pipeline micro-batches
        local = mbs
        if gbs is None:
            gbs = local * g["dp"]
            notes.append(f"global_batch_size null: local batch {local} x dp {g['dp']} = {gbs}")
        if g["pp"] > 1:
            mbs = 1 if pmb is None else _int("parallelism.pipeline_parallel_microbatch_size", pmb)
            notes.append(
                f"{fw.label}: micro_batch_size {local} is the local batch per DP rank; pipeline "
                f"micro-batch {mbs}"
                + (" (pipeline_parallel_microbatch_size default)" if pmb is None else "")
            )
    elif fw.batch == "per_device":  # MaxText/Paxml: per-device batch, global = per-device x devices
        if gbs is None:
            gbs = mbs * count
            notes.append(
                f"global_batch_size null: per-device batch {mbs} x {count} devices = {gbs}"
            )
        mbs = mbs * g["tp"] * g["cp"]  # the TP/CP ranks of one DP replica share its samples
        notes.append(
            f"{fw.label}: micro_batch_size is the per-device batch; one data-parallel rank runs {mbs}"
        )
    elif gbs is None:
        gbs = mbs * g["dp"]
        notes.append(f"parallelism.global_batch_size null: micro_batch_size*dp = {gbs}")
    g["micro_batch_size"] = mbs
    g["global_batch_size"] = _int("parallelism.global_batch_size", gbs)


def _opt_bool(par: Any, key: str) -> bool | None:
    v = par.get(key) if isinstance(par, dict) else None
    if v is not None and not isinstance(v, bool):
        raise ConfigError(f"parallelism.{key} must be true or false, got {v!r}")
    return v


def _schedule(par: Any) -> str | None:
    v = par.get("pipeline_schedule") if isinstance(par, dict) else None
    if v is not None and v not in PP_SCHEDULES:
        raise ConfigError(
            f"parallelism.pipeline_schedule {v!r} unknown; choose from {', '.join(PP_SCHEDULES)}"
        )
    return v


def _framework(d: dict[str, Any], notes: list[str]) -> Framework:
    """The run's framework: `framework:` if given, else the one its `source` names, else `other`."""
    if d.get("framework") is not None:
        return get_framework(str(d["framework"]))
    fw = framework_from_source(d.get("source"))
    if fw is not None:
        notes.append(f"framework null: {fw.id} (named by the run's source)")
        return fw
    notes.append("framework null: other (Megatron field meanings, no TP-overlap credit)")
    return get_framework("other")


def parse_run(d: Any, *, base_dir: Path | None = None) -> Any:
    """Parse and validate one run mapping; raises a WankaError with a one-line message.

    A run whose `hardware` is a list of groups is heterogeneous: a `spec_hetero.HeteroRunSpec`.
    """
    from wanka.schemas import check_input

    d = check_input(
        "run", d
    )  # unknown keys, wrong types; numbers as `schemas.as_number` reads them
    if isinstance(d, dict) and isinstance(d.get("hardware"), list):
        from wanka.spec_hetero import parse_hetero_run

        return parse_hetero_run(d, base_dir=base_dir)
    d = _check_keys("run", d, _RUN_KEYS)
    notes: list[str] = []
    if "model" not in d or "hardware" not in d:
        raise ConfigError(
            "a run needs `model` and `hardware` blocks (see docs/design.md, run spec)"
        )
    model = model_from_mapping(d["model"], base_dir=base_dir, assumptions=notes)
    hw = _check_keys("hardware", d["hardware"], _HW_KEYS)
    if not hw.get("accelerator"):
        raise ConfigError("hardware.accelerator is required (an id from `wanka catalog list`)")
    acc = get_accelerator(str(hw["accelerator"]))
    if hw.get("count") is None:
        raise ConfigError("hardware.count is required")
    count = _int("hardware.count", hw["count"])
    gpn = hw.get("gpus_per_node")
    if gpn is None:
        gpn = acc.gpus_per_node
        notes.append(f"hardware.gpus_per_node null: {gpn} ({acc.id} default)")
    hardware = HardwareSpec(
        accelerator=acc,
        count=count,
        gpus_per_node=_int("hardware.gpus_per_node", gpn),
        system=hw.get("system"),
    )
    precision = d.get("precision")
    if precision is None:
        precision = "bf16"
        notes.append("precision null: bf16")
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    acc.peak(precision)  # raises if the chip lacks this number format
    fw = _framework(d, notes)
    par = d.get("parallelism") or {}
    plan = _plan(par, count=count, model=model, notes=notes, fw=fw)
    measured = d.get("measured")
    if measured is not None and not isinstance(measured, dict):
        raise ConfigError("measured must be a mapping")
    return RunSpec(
        id=None if d.get("id") is None else str(d["id"]),
        model=model,
        hardware=hardware,
        parallelism=plan,
        precision=precision,
        assumptions=tuple(notes),
        measured=measured,
        source=d.get("source"),
        framework=fw.id,
        recompute_stated=isinstance(par, dict) and par.get("recompute") is not None,
        tp_comm_overlap=_opt_bool(par, "tp_comm_overlap"),
        pipeline_schedule=_schedule(par),
    )


def read_spec_file(path: str | Path) -> Any:
    """Read a user's YAML or JSON file through `wanka.userfile` (one-line ConfigErrors)."""
    return read_data(path)


def load_runs(path: str | Path) -> list[RunSpec | RunError]:
    """Read a run-spec file (one mapping or a list); each run parses on its own, errors per run."""
    data = read_spec_file(path)
    if data is None or data == []:
        empty = "the file is empty" if data is None else "the file holds an empty list"
        raise ConfigError(f"{path}: {empty}; give one run (a mapping) or a list of runs")
    runs = data if isinstance(data, list) else [data]
    out: list[RunSpec | RunError] = []
    base = Path(path).parent
    for i, d in enumerate(runs):
        rid = d.get("id") if isinstance(d, dict) else None
        try:
            out.append(parse_run(d, base_dir=base))
        except WankaError as e:
            out.append(RunError(None if rid is None else str(rid), str(e) or type(e).__name__))
        except (TypeError, ValueError) as e:  # a wrongly typed field deep in a record
            out.append(RunError(None if rid is None else str(rid), f"run {i + 1}: {e}"))
    return out

"""Run specs: the input of `wanka predict` (format in DESIGN.md), parsed into frozen records.

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

_RUN_KEYS = {"id", "model", "hardware", "parallelism", "precision", "measured", "source"}
_MODEL_KEYS = {
    "name",
    "type",
    "params_b",
    "active_params_b",
    "notes",
    "layers",
    "hidden",
    "heads",
    "kv_heads",
    "ffn_hidden",
    "vocab",
    "seq_len",
    "moe",
    "head_dim",
    "activation",
    "tied_embeddings",
    "mla",
    "mtp_layers",
    "learned_positions",
    "preset",
    "hf_config",
}
_MOE_KEYS = {
    "experts",
    "top_k",
    "expert_ffn",
    "shared_experts",
    "shared_expert_ffn",
    "dense_layers",
    "capacity_factor",
    "router_bias",
}
_MLA_KEYS = {"q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"}
_HW_KEYS = {"accelerator", "count", "gpus_per_node", "system"}
_PAR_KEYS = {
    "tp",
    "pp",
    "vpp",
    "cp",
    "ep",
    "etp",
    "dp",
    "fsdp",
    "distributed_optimizer",
    "sequence_parallel",
    "recompute",
    "micro_batch_size",
    "global_batch_size",
}
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
    try:
        from wanka.workload.presets import models
    except ImportError:  # presets not available: no fill-in
        return None
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


def model_from_mapping(
    d: dict[str, Any], *, base_dir: Path | None = None, assumptions: list[str] | None = None
) -> ModelSpec:
    """Build a ModelSpec from a run spec's `model` block (explicit fields, `preset`, or `hf_config`)."""
    notes = assumptions if assumptions is not None else []
    d = dict(_check_keys("model", d, _MODEL_KEYS | {"layer_pattern", "mamba"}))  # + hybrid models
    base: ModelSpec | None = None
    if d.get("preset") is not None:
        from wanka.workload.presets import get_model

        base = get_model(str(d.pop("preset")))
    elif d.get("hf_config") is not None:
        from wanka.workload.hf import from_hf_config

        p = Path(str(d.pop("hf_config")))
        base = from_hf_config(p if p.is_absolute() or base_dir is None else base_dir / p)
    d.pop("preset", None), d.pop("hf_config", None)
    for k in ("params_b", "active_params_b", "notes"):  # descriptive only
        d.pop(k, None)
    if base is None:
        missing = [k for k in ("layers", "hidden", "heads", "seq_len") if d.get(k) is None]
        if missing:
            raise ConfigError(
                f"model: {', '.join(missing)} required (or give model.preset / model.hf_config)"
            )
        hit = _matching_preset(d)
        if hit:
            pid, pm = hit
            filled = []
            for k in (
                "kv_heads",
                "ffn_hidden",
                "vocab",
                "head_dim",
                "activation",
                "tied_embeddings",
                "mla",
                "layer_pattern",
                "mamba",
            ):
                if d.get(k) is None and getattr(pm, k) is not None:
                    d[k] = getattr(pm, k)
                    filled.append(k)
            if filled:
                notes.append(f"model shape matches preset {pid}: took {', '.join(filled)} from it")
    moe = d.pop("moe", None)
    mla = d.pop("mla", None)
    if isinstance(moe, dict):
        _check_keys("model.moe", moe, _MOE_KEYS)
        moe = MoESpec(**{k: v for k, v in moe.items() if v is not None})
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
    fields = {k: v for k, v in d.items() if v is not None}
    if base is not None:
        if moe is not None:
            fields["moe"] = moe
        if mla is not None:
            fields["mla"] = mla
        return replace(base, **fields)
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
        k: (
            _int(f"model.{k}", v)
            if k
            in (
                "layers",
                "hidden",
                "heads",
                "kv_heads",
                "ffn_hidden",
                "vocab",
                "seq_len",
                "head_dim",
            )
            else v
        )
        for k, v in fields.items()
    }
    return ModelSpec(name=name, type=mtype, moe=moe, mla=mla, **rest)


def _plan(d: dict[str, Any], *, count: int, model: ModelSpec, notes: list[str]) -> ParallelPlan:
    d = _check_keys("parallelism", d or {}, _PAR_KEYS)
    g: dict[str, Any] = {}
    for k in ("tp", "pp", "vpp", "cp", "ep", "micro_batch_size"):
        if d.get(k) is None:
            g[k] = 1
            if k in ("ep",) and model.moe is not None or k == "micro_batch_size":
                notes.append(f"parallelism.{k} null: 1")
        else:
            g[k] = _int(f"parallelism.{k}", d[k])
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
        notes.append("parallelism.recompute null: none")
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
    gbs = d.get("global_batch_size")
    g["global_batch_size"] = (
        g["micro_batch_size"] * g["dp"]
        if gbs is None
        else _int("parallelism.global_batch_size", gbs)
    )
    if gbs is None:
        notes.append(
            f"parallelism.global_batch_size null: micro_batch_size*dp = {g['global_batch_size']}"
        )
    plan = ParallelPlan(**g)
    notes += plan.check(count=count, model=model, strict_experts=False)
    return plan


def parse_run(d: Any, *, base_dir: Path | None = None) -> Any:
    """Parse and validate one run mapping; raises a WankaError with a one-line message.

    A run whose `hardware` is a list of groups is heterogeneous: a `spec_hetero.HeteroRunSpec`.
    """
    if isinstance(d, dict) and isinstance(d.get("hardware"), list):
        from wanka.spec_hetero import parse_hetero_run

        return parse_hetero_run(d, base_dir=base_dir)
    d = _check_keys("run", d, _RUN_KEYS)
    notes: list[str] = []
    if "model" not in d or "hardware" not in d:
        raise ConfigError("a run needs `model` and `hardware` blocks (see DESIGN.md, run spec)")
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
    plan = _plan(d.get("parallelism") or {}, count=count, model=model, notes=notes)
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
    )


def read_spec_file(path: str | Path) -> Any:
    """Read a user's YAML or JSON file through `wanka.userfile` (one-line ConfigErrors)."""
    return read_data(path)


def load_runs(path: str | Path) -> list[RunSpec | RunError]:
    """Read a run-spec file (one mapping or a list); each run parses on its own, errors per run."""
    data = read_spec_file(path)
    if data is None:
        raise ConfigError(f"{path}: the file is empty; give one run (a mapping) or a list of runs")
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

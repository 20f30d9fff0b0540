"""Megatron-Bridge: a plan as `ConfigContainer` overrides (YAML), and such a YAML back into a run spec.

Key names are Megatron-Bridge's `ConfigContainer` sections (megatron-bridge 0.3.1,
`megatron/bridge/training/config.py`): `model:` is its `GPTModelProvider`, a megatron-core 0.16.1
`TransformerConfig` (`MLATransformerConfig` with multi-latent attention) plus the provider's own
`seq_length`, `vocab_size` and `share_embeddings_and_output_weights`; `train:` its `TrainingConfig`; `ddp:` a `DistributedDataParallelConfig`; `comm_overlap:` its
`CommOverlapConfig`; `optimizer:` an `OptimizerConfig`; `mixed_precision:` a recipe name looked up by
`get_mixed_precision_config`. NeMo-Run recipes take the same fields. The test suite builds each block with
those classes (`tests/frameworks/bridge_check.py`).

One set of tables (`PLAN_KEYS`, `TRAIN_KEYS`, `MODEL_KEYS`, `MODEL_FLAGS`, `MOE_KEYS`, `MLA_KEYS`, `MIXED_PRECISION`)
serves both directions, so export and import cannot drift. The world size is not a `ConfigContainer`
field (the launcher sets it): the export states it in its first comment line, which the importer reads
unless `count` is given.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from wanka.errors import ConfigError
from wanka.frameworks.megatron import Overlaps, megatron_problems, uneven_split
from wanka.parallel import ParallelPlan
from wanka.spec import parse_run
from wanka.workload.model import ModelSpec

__all__ = ["MIXED_PRECISION", "from_bridge", "to_bridge"]

#: wanka precision <-> Megatron-Bridge mixed-precision recipe name (`mixed_precision.py`).
MIXED_PRECISION = {
    "bf16": "bf16_mixed",
    "fp16": "fp16_mixed",
    "fp8": "bf16_with_fp8_delayed_scaling_mixed",
    "fp8-blockwise": "bf16_with_fp8_subchannel_scaling_mixed",
    "mxfp8": "bf16_with_mxfp8_mixed",
    "nvfp4": "bf16_with_nvfp4_mixed",
}
_PRECISION_OF = {v: k for k, v in MIXED_PRECISION.items()}
#: ParallelPlan field <-> `model:` key for the degrees (vpp 1 is written as null: no interleaving).
PLAN_KEYS = {
    "tp": "tensor_model_parallel_size",
    "pp": "pipeline_model_parallel_size",
    "vpp": "virtual_pipeline_model_parallel_size",
    "cp": "context_parallel_size",
    "ep": "expert_model_parallel_size",
    "etp": "expert_tensor_parallel_size",
}
#: ParallelPlan field <-> `train:` key.
TRAIN_KEYS = {"micro_batch_size": "micro_batch_size", "global_batch_size": "global_batch_size"}
#: ModelSpec field <-> `model:` key for the shape.
MODEL_KEYS = {
    "layers": "num_layers",
    "hidden": "hidden_size",
    "heads": "num_attention_heads",
    "kv_heads": "num_query_groups",
    "ffn_hidden": "ffn_hidden_size",
    "vocab": "vocab_size",
    "seq_len": "seq_length",
}
#: ModelSpec field <-> `model:` key for GPTModelProvider's own booleans.
MODEL_FLAGS = {"tied_embeddings": "share_embeddings_and_output_weights"}
MOE_KEYS = {
    "experts": "num_moe_experts",
    "top_k": "moe_router_topk",
    "expert_ffn": "moe_ffn_hidden_size",
}
MLA_KEYS = {
    "q_lora_rank": "q_lora_rank",
    "kv_lora_rank": "kv_lora_rank",
    "qk_nope_head_dim": "qk_head_dim",
    "qk_rope_head_dim": "qk_pos_emb_head_dim",
    "v_head_dim": "v_head_dim",
}
#: Shape keys a file may leave out (a shape that matches one preset takes them from it).
OPTIONAL = ("ffn_hidden_size", "vocab_size")
_SHARDING = {"full": "optim_grads_params", "grad_op": "optim_grads"}
_FSDP_OF = {v: k for k, v in _SHARDING.items()}
_HEAD = re.compile(r"#\s*(?P<name>.+?):\s*(?P<count>\d+) accelerators")


def _layout_keys(plan: ParallelPlan, m: ModelSpec) -> dict[str, Any]:
    d: dict[str, Any] = {
        key: (None if k == "vpp" and plan.vpp == 1 else getattr(plan, k))
        for k, key in PLAN_KEYS.items()
    }
    d["sequence_parallel"] = plan.sequence_parallel
    d["recompute_granularity"] = None if plan.recompute == "none" else plan.recompute
    if m.head_dim and m.head_dim * m.heads != m.hidden:
        d["kv_channels"] = m.head_dim
    if plan.recompute == "full":
        d |= {"recompute_method": "uniform", "recompute_num_layers": 1}
    split = uneven_split(m.layers, plan.pp) if m.layers % plan.pp else None
    if split is not None:
        d |= {
            "num_layers_in_first_pipeline_stage": split[0],
            "num_layers_in_last_pipeline_stage": split[1],
        }
    return d


def _moe_keys(plan: ParallelPlan, m: ModelSpec) -> dict[str, Any]:
    if m.moe is None:
        return {}
    moe = m.moe
    d: dict[str, Any] = {key: getattr(moe, k) for k, key in MOE_KEYS.items()}
    d["moe_grouped_gemm"] = True
    d["moe_token_dispatcher_type"] = "alltoall" if plan.ep > 1 else "allgather"
    if moe.router_bias:  # aux-loss-free balancing: megatron-core needs sigmoid scores for it
        d |= {"moe_router_enable_expert_bias": True, "moe_router_score_function": "sigmoid"}
    if moe.shared_experts:
        width = moe.shared_experts * (moe.shared_expert_ffn or moe.expert_ffn)
        d["moe_shared_expert_intermediate_size"] = width
    if moe.dense_layers:
        d["moe_layer_freq"] = [0] * moe.dense_layers + [1] * (m.layers - moe.dense_layers)
    return d


def _model_block(plan: ParallelPlan, m: ModelSpec) -> dict[str, Any]:
    """The `model:` block: Megatron-Bridge's GPTModelProvider, a megatron-core TransformerConfig."""
    d: dict[str, Any] = {key: getattr(m, k) for k, key in MODEL_KEYS.items()}
    d |= {key: getattr(m, k) for k, key in MODEL_FLAGS.items()}
    d |= _layout_keys(plan, m) | _moe_keys(plan, m)
    if m.mla is not None:
        d["multi_latent_attention"] = True
        d |= {key: getattr(m.mla, k) for k, key in MLA_KEYS.items()}
    if m.mtp_layers:
        d["mtp_num_layers"] = m.mtp_layers
    return d


def to_bridge(
    plan: ParallelPlan,
    model: ModelSpec,
    *,
    precision: str = "bf16",
    overlaps: Overlaps | None = None,
) -> str:
    """A Megatron-Bridge `ConfigContainer` override YAML (NeMo-Run recipes take the same fields):
    model shape and layout (`model:`, a megatron-core TransformerConfig), batch (`train:`), data
    parallelism and its overlap (`ddp:`), TP communication overlap (`comm_overlap:`), the mixed
    precision recipe by name. FSDP is Megatron-FSDP, as in the Megatron-LM export."""
    overlaps = overlaps or Overlaps(tp=False)
    dp_overlap = overlaps.dp and plan.dp > 1
    ddp: dict[str, Any] = {
        "use_distributed_optimizer": plan.distributed_optimizer,
        "use_megatron_fsdp": plan.fsdp != "none",
        "overlap_grad_reduce": dp_overlap,
        "overlap_param_gather": dp_overlap and (plan.distributed_optimizer or plan.fsdp != "none"),
    }
    if plan.fsdp != "none":
        ddp["data_parallel_sharding_strategy"] = _SHARDING[plan.fsdp]
    cfg = {
        "model": _model_block(plan, model),
        "train": {key: getattr(plan, k) for k, key in TRAIN_KEYS.items()},
        "ddp": ddp,
        "comm_overlap": {"tp_comm_overlap": overlaps.tp and plan.tp > 1},
        "optimizer": {"use_distributed_optimizer": plan.distributed_optimizer},
        "mixed_precision": MIXED_PRECISION.get(precision, "bf16_mixed"),
    }
    head = f"# {model.name}: {plan.world_size} accelerators, Megatron-Bridge overrides by wanka\n"
    return head + yaml.safe_dump(cfg, sort_keys=False, default_flow_style=None, width=100)


# ---------------------------------------------------------------- import


def _block(cfg: dict[str, Any], name: str) -> dict[str, Any]:
    v = cfg.get(name, {})
    if not isinstance(v, dict):
        raise ConfigError(f"Megatron-Bridge overrides: {name}: must be a mapping, got {v!r}")
    return v


def _int(block: str, d: dict[str, Any], key: str, default: int | None = None) -> int:
    v = d.get(key, default)
    if v is None and default is not None:
        v = default
    if not isinstance(v, int) or isinstance(v, bool):
        raise ConfigError(f"Megatron-Bridge overrides: {block}.{key} must be an integer, got {v!r}")
    return v


def _bool(block: str, d: dict[str, Any], key: str) -> bool:
    v = d.get(key, False)
    if not isinstance(v, bool):
        raise ConfigError(
            f"Megatron-Bridge overrides: {block}.{key} must be true or false, got {v!r}"
        )
    return v


def _load(text: str) -> dict[str, Any]:
    try:
        cfg = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(
            f"Megatron-Bridge overrides: not valid YAML{where}; give what `search --export nemo` "
            "writes"
        ) from None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("model"), dict):
        raise ConfigError(
            "not a Megatron-Bridge override YAML (no `model:` mapping); "
            "give what `search --export nemo` writes"
        )
    return cfg


def _model_of(md: dict[str, Any], name: str) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name}
    missing = [key for key in MODEL_KEYS.values() if key not in md and key not in OPTIONAL]
    if missing:
        raise ConfigError(f"Megatron-Bridge overrides: model.{', model.'.join(missing)} missing")
    m |= {k: _int("model", md, key) for k, key in MODEL_KEYS.items() if key in md}
    m |= {k: _bool("model", md, key) for k, key in MODEL_FLAGS.items() if key in md}
    if md.get("kv_channels") is not None:
        m["head_dim"] = _int("model", md, "kv_channels")
    if md.get("num_moe_experts") is not None:
        moe = {k: _int("model", md, key) for k, key in MOE_KEYS.items()}
        freq = md.get("moe_layer_freq")
        moe["dense_layers"] = freq.count(0) if isinstance(freq, list) else 0
        moe["router_bias"] = _bool("model", md, "moe_router_enable_expert_bias")
        if md.get("moe_shared_expert_intermediate_size") is not None:
            moe["shared_experts"] = 1
            moe["shared_expert_ffn"] = _int("model", md, "moe_shared_expert_intermediate_size")
        m["moe"] = moe
    if _bool("model", md, "multi_latent_attention"):
        m["mla"] = {
            k: None if md.get(key) is None and k == "q_lora_rank" else _int("model", md, key)
            for k, key in MLA_KEYS.items()
        }
    if md.get("mtp_num_layers"):
        m["mtp_layers"] = _int("model", md, "mtp_num_layers")
    return m


def _plan_of(cfg: dict[str, Any], count: int) -> dict[str, Any]:
    md, ddp, train = cfg["model"], _block(cfg, "ddp"), _block(cfg, "train")
    par: dict[str, Any] = {k: _int("model", md, key, 1) for k, key in PLAN_KEYS.items()}
    par |= {k: _int("train", train, key, 1) for k, key in TRAIN_KEYS.items()}
    group = par["tp"] * par["pp"] * par["cp"]
    if count % group:
        raise ConfigError(
            f"Megatron-Bridge overrides: {count} accelerators do not divide into "
            f"tp*pp*cp = {group}; check the layout or give --count"
        )
    par["dp"] = count // group
    par["sequence_parallel"] = _bool("model", md, "sequence_parallel")
    recompute = md.get("recompute_granularity") or "none"
    if recompute not in ("none", "selective", "full"):
        raise ConfigError(f"Megatron-Bridge overrides: model.recompute_granularity {recompute!r}")
    par["recompute"] = recompute
    dist_opt = _bool("ddp", ddp, "use_distributed_optimizer")
    if dist_opt != _bool("optimizer", _block(cfg, "optimizer"), "use_distributed_optimizer"):
        raise ConfigError(
            "Megatron-Bridge overrides: ddp. and optimizer.use_distributed_optimizer disagree"
        )
    par["distributed_optimizer"] = dist_opt
    par["fsdp"] = "none"
    if _bool("ddp", ddp, "use_megatron_fsdp"):
        strategy = ddp.get("data_parallel_sharding_strategy", "optim_grads_params")
        if strategy not in _FSDP_OF:
            raise ConfigError(
                f"Megatron-Bridge overrides: ddp.data_parallel_sharding_strategy {strategy!r}; "
                f"wanka models {', '.join(_FSDP_OF)}"
            )
        par["fsdp"] = _FSDP_OF[strategy]
    par["tp_comm_overlap"] = _bool("comm_overlap", _block(cfg, "comm_overlap"), "tp_comm_overlap")
    return par


def from_bridge(
    text: str, *, accelerator: str, count: int | None = None, name: str | None = None
) -> dict[str, Any]:
    """A run spec (DESIGN.md format, as a mapping) from a Megatron-Bridge override YAML as `to_bridge`
    writes it. The model is its shape (a shape that matches one preset takes that preset's other
    fields); the accelerator count is `count`, else the export's first comment line."""
    cfg = _load(text)
    head = _HEAD.match(text.lstrip())
    if count is None:
        if head is None:
            raise ConfigError(
                "Megatron-Bridge overrides do not state the accelerator count; give --count"
            )
        count = int(head["count"])
    name = name or (head["name"] if head else "imported")
    mixed = cfg.get("mixed_precision", "bf16_mixed")
    if mixed not in _PRECISION_OF:
        raise ConfigError(
            f"Megatron-Bridge overrides: mixed_precision {mixed!r} has no wanka precision; "
            f"use one of {', '.join(_PRECISION_OF)}"
        )
    spec = {
        "id": name,
        "framework": "nemo",
        "model": _model_of(cfg["model"], name),
        "hardware": {"accelerator": accelerator, "count": count},
        "parallelism": _plan_of(cfg, count),
        "precision": _PRECISION_OF[mixed],
    }
    run = parse_run(spec)
    problems = megatron_problems(run.parallelism, run.model)
    if problems:  # Megatron-Bridge runs megatron-core: Megatron's layout checks apply
        raise ConfigError("Megatron-Bridge overrides: " + "; ".join(problems))
    return spec

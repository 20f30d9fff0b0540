"""Write a parallel plan as a training framework's own configuration.

- `megatron`: a complete Megatron-LM launch (`wanka.frameworks.megatron`, checked in the test suite by
  Megatron-LM's own `parse_args` + `validate_args`);
- `torchtitan`: a torchtitan 0.3 config function (`wanka.frameworks.torchtitan`, checked in the test suite
  by torchtitan's own `ConfigManager`, `ParallelDims` and model checks);
- `nemo`: a Megatron-Bridge / NeMo 2 recipe override YAML (`model.tensor_model_parallel_size`, ...).

Names come from each framework's documented arguments (Megatron-LM `megatron/training/arguments.py`,
torchtitan `torchtitan/config/configs.py`, Megatron-Bridge `ConfigContainer`); options a framework lacks
are written as comments so nothing is silently lost.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from wanka.errors import ConfigError
from wanka.frameworks.megatron import Overlaps, megatron_problems, to_megatron, uneven_split
from wanka.frameworks.torchtitan import TORCHTITAN_DIMS, to_torchtitan, torchtitan_problems
from wanka.hardware import Accelerator
from wanka.parallel import ParallelPlan
from wanka.perf.comm import scaleup_domain_size
from wanka.workload.model import ModelSpec

__all__ = [
    "FORMATS",
    "export_plan",
    "export_top",
    "framework_dims",
    "framework_problems",
    "to_nemo",
]

FORMATS = ("megatron", "torchtitan", "nemo")
EXTENSIONS = {"megatron": "sh", "torchtitan": "py", "nemo": "yaml"}


_BRIDGE_MIXED = {
    "bf16": "bf16_mixed",
    "fp16": "fp16_mixed",
    "fp8": "bf16_with_fp8_delayed_scaling_mixed",
    "fp8-blockwise": "bf16_with_fp8_subchannel_scaling_mixed",
    "mxfp8": "bf16_with_mxfp8_mixed",
    "nvfp4": "bf16_with_nvfp4_mixed",
}


def _bridge_model(plan: ParallelPlan, m: ModelSpec) -> dict[str, Any]:
    """The `model:` block: Megatron-Bridge's GPTModelProvider, a megatron-core TransformerConfig."""
    d: dict[str, Any] = {
        "num_layers": m.layers,
        "hidden_size": m.hidden,
        "num_attention_heads": m.heads,
        "num_query_groups": m.kv_heads,
        "ffn_hidden_size": m.ffn_hidden,
        "seq_length": m.seq_len,
        "tensor_model_parallel_size": plan.tp,
        "pipeline_model_parallel_size": plan.pp,
        "virtual_pipeline_model_parallel_size": plan.vpp if plan.vpp > 1 else None,
        "context_parallel_size": plan.cp,
        "expert_model_parallel_size": plan.ep,
        "expert_tensor_parallel_size": plan.etp,
        "sequence_parallel": plan.sequence_parallel,
        "recompute_granularity": None if plan.recompute == "none" else plan.recompute,
    }
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
    if m.moe is not None:
        moe = m.moe
        d |= {
            "num_moe_experts": moe.experts,
            "moe_router_topk": moe.top_k,
            "moe_ffn_hidden_size": moe.expert_ffn,
            "moe_grouped_gemm": True,
            "moe_token_dispatcher_type": "alltoall" if plan.ep > 1 else "allgather",
        }
        if moe.router_bias:  # aux-loss-free balancing: megatron-core needs sigmoid scores for it
            d |= {"moe_router_enable_expert_bias": True, "moe_router_score_function": "sigmoid"}
        if moe.shared_experts:
            width = moe.shared_experts * (moe.shared_expert_ffn or moe.expert_ffn)
            d["moe_shared_expert_intermediate_size"] = width
        if moe.dense_layers:
            d["moe_layer_freq"] = [0] * moe.dense_layers + [1] * (m.layers - moe.dense_layers)
    if m.mla is not None:
        d |= {
            "multi_latent_attention": True,
            "q_lora_rank": m.mla.q_lora_rank,
            "kv_lora_rank": m.mla.kv_lora_rank,
            "qk_head_dim": m.mla.qk_nope_head_dim,
            "qk_pos_emb_head_dim": m.mla.qk_rope_head_dim,
            "v_head_dim": m.mla.v_head_dim,
        }
    if m.mtp_layers:
        d["mtp_num_layers"] = m.mtp_layers
    return d


def to_nemo(
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
        strategy = "optim_grads_params" if plan.fsdp == "full" else "optim_grads"
        ddp["data_parallel_sharding_strategy"] = strategy
    cfg = {
        "model": _bridge_model(plan, model),
        "train": {
            "micro_batch_size": plan.micro_batch_size,
            "global_batch_size": plan.global_batch_size,
        },
        "ddp": ddp,
        "comm_overlap": {"tp_comm_overlap": overlaps.tp and plan.tp > 1},
        "optimizer": {"use_distributed_optimizer": plan.distributed_optimizer},
        "mixed_precision": _BRIDGE_MIXED.get(precision, "bf16_mixed"),
    }
    head = f"# {model.name}: {plan.world_size} accelerators, Megatron-Bridge overrides by wanka\n"
    return head + yaml.safe_dump(cfg, sort_keys=False, default_flow_style=None, width=100)


def framework_problems(
    plan: ParallelPlan, model: ModelSpec, fmt: str, precision: str = "bf16"
) -> list[str]:
    """Why framework `fmt` refuses this layout (empty if it accepts it)."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    if fmt in ("megatron", "nemo"):  # Megatron-Bridge builds on Megatron-LM's argument checks
        return megatron_problems(plan, model)
    return torchtitan_problems(plan, model, precision)


def framework_dims(fmt: str | None) -> dict[str, tuple[Any, ...]]:
    """Search-space restrictions for layouts framework `fmt` can run at all (`search --export`), so
    its top plans are ones it accepts; model-dependent refusals are still checked per plan."""
    return dict(TORCHTITAN_DIMS) if fmt == "torchtitan" else {}


def credited_overlaps(plan: ParallelPlan, acc: Accelerator, gpus_per_node: int) -> Overlaps:
    """The overlaps the step model credits this plan with (`perf.step`: TE userbuffer TP overlap needs
    sequence parallelism and a TP group inside one scale-up domain; DP overlap is on by default)."""
    domain = scaleup_domain_size(acc, gpus_per_node)
    return Overlaps(tp=plan.sequence_parallel and plan.tp <= domain, dp=True)


def export_plan(
    plan: ParallelPlan,
    fmt: str,
    *,
    model: ModelSpec,
    accelerator: Accelerator,
    precision: str = "bf16",
    gpus_per_node: int = 8,
) -> str:
    """The plan in framework `fmt` (one of FORMATS); a layout the framework refuses is a ConfigError."""
    problems = framework_problems(plan, model, fmt, precision)
    if problems:
        raise ConfigError(f"{fmt} cannot run this plan: " + "; ".join(problems))
    if fmt == "megatron":
        overlaps = credited_overlaps(plan, accelerator, gpus_per_node)
        return to_megatron(
            plan, model, precision=precision, gpus_per_node=gpus_per_node, overlaps=overlaps
        )
    if fmt == "torchtitan":
        tp_overlap = credited_overlaps(plan, accelerator, gpus_per_node).tp and plan.tp > 1
        return to_torchtitan(
            plan, model, precision=precision, gpus_per_node=gpus_per_node, tp_overlap=tp_overlap
        )
    overlaps = credited_overlaps(plan, accelerator, gpus_per_node)
    return to_nemo(plan, model, precision=precision, overlaps=overlaps)


def export_top(
    result: dict[str, Any],
    fmt: str,
    *,
    model: ModelSpec,
    accelerator: Accelerator,
    out: Path | None = None,
    count: int = 1,
) -> tuple[list[Path], list[str]]:
    """Write the first `count` plans of a search result that framework `fmt` accepts.

    Returns the files written and, for each better-ranked plan the framework refuses, the reason it was
    passed over. The first file is `out` (default `wanka-best-plan.<fmt>.<ext>`; `wanka_plan.py` for
    torchtitan, whose config is an importable module), later ones get `-2`, `-3`, ... (`_2` for a
    Python module) before the extension.
    """
    written: list[Path] = []
    skipped: list[str] = []
    gpn = int(result.get("gpus_per_node") or accelerator.gpus_per_node)
    for rank, row in enumerate(result.get("top") or [], 1):
        plan = ParallelPlan(**row["parallelism"])
        problems = framework_problems(plan, model, fmt, row["precision"])
        if problems:
            skipped.append(f"plan {rank}: " + "; ".join(problems))
            continue
        text = export_plan(
            plan,
            fmt,
            model=model,
            accelerator=accelerator,
            precision=row["precision"],
            gpus_per_node=gpn,
        )
        path = _numbered(out or _default_path(fmt), len(written) + 1)
        path.write_text(text, encoding="utf-8")
        written.append(path)
        if len(written) == count:
            break
    return written, skipped


def _default_path(fmt: str) -> Path:
    # a torchtitan config is a Python module named by `--module`: its file name must be importable
    if fmt == "torchtitan":
        return Path("wanka_plan.py")
    return Path(f"wanka-best-plan.{fmt}.{EXTENSIONS[fmt]}")


def _numbered(path: Path, i: int) -> Path:
    sep = "_" if path.suffix == ".py" else "-"
    return path if i == 1 else path.with_name(f"{path.stem}{sep}{i}{path.suffix}")

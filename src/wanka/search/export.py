"""Write a parallel plan as a training framework's own configuration.

- `megatron`: a complete Megatron-LM launch (`wanka.frameworks.megatron`, checked in the test suite by
  Megatron-LM's own `parse_args` + `validate_args`);
- `torchtitan`: a TorchTitan job-config TOML (`[parallelism]`, `[training]`, `[activation_checkpoint]`, ...);
- `nemo`: a Megatron-Bridge / NeMo 2 recipe override YAML (`model.tensor_model_parallel_size`, ...).

Names come from each framework's documented arguments (Megatron-LM `megatron/training/arguments.py`,
TorchTitan `torchtitan/config/job_config.py`, Megatron-Bridge `ConfigContainer`); options a framework lacks
are written as comments so nothing is silently lost.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wanka.errors import ConfigError
from wanka.frameworks.megatron import Overlaps, megatron_problems, to_megatron
from wanka.hardware import Accelerator
from wanka.parallel import ParallelPlan
from wanka.perf.comm import scaleup_domain_size
from wanka.workload.model import ModelSpec

__all__ = ["FORMATS", "export_plan", "export_top", "framework_problems", "to_nemo", "to_torchtitan"]

FORMATS = ("megatron", "torchtitan", "nemo")
EXTENSIONS = {"megatron": "sh", "torchtitan": "toml", "nemo": "yaml"}


def _toml(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    return str(v)


def to_torchtitan(
    plan: ParallelPlan,
    model: ModelSpec,
    *,
    precision: str = "bf16",
) -> str:
    """A whole TorchTitan job file (TOML: `[job]`, `[model]`, `[parallelism]`, `[training]`, ...).

    TorchTitan shards with FSDP2 over `data_parallel_shard_degree` and replicates over
    `data_parallel_replicate_degree`: fsdp=full or a distributed optimizer maps to sharding over all dp
    ranks, fsdp=none without one to pure replication (DDP). Batch semantics: `local_batch_size` is one
    data-parallel rank's batch per optimizer step; without pipelining it is the micro-batch and
    TorchTitan accumulates `global / (local * dp)` gradients, with pipelining the pipeline schedule splits
    it into micro-batches of `pipeline_parallel_microbatch_size`. fp8/mx are switched on by the model
    converters (`[model] converters`), without which the quantize sections are ignored.
    """
    shard = plan.fsdp != "none" or plan.distributed_optimizer
    local = plan.micro_batch_size if plan.pp == 1 else plan.global_batch_size // plan.dp
    converter = {"fp8": "quantize.linear.float8", "fp8-blockwise": "quantize.linear.float8"}.get(
        precision, "quantize.linear.mx" if precision in ("mxfp8", "nvfp4") else None
    )
    lines = [
        "[job]",
        f"description = {_toml(model.name + ' layout chosen by wanka')}",
        "",
        "[model]",
        f"name = {_toml(model.name)}",
        f"converters = [{_toml(converter)}]" if converter else "converters = []",
        "",
        "[parallelism]",
        f"data_parallel_replicate_degree = {1 if shard else plan.dp}",
        f"data_parallel_shard_degree = {plan.dp if shard else 1}",
        f"fsdp_reshard_after_forward = {_toml('always' if plan.fsdp == 'full' else 'never')}",
        f"tensor_parallel_degree = {plan.tp}",
        f"enable_async_tensor_parallel = {_toml(False)}",
        f"pipeline_parallel_degree = {plan.pp}",
        f"pipeline_parallel_schedule = {_toml('Interleaved1F1B' if plan.vpp > 1 else '1F1B')}",
        f"pipeline_parallel_microbatch_size = {plan.micro_batch_size}",
        f"context_parallel_degree = {plan.cp}",
        f"expert_parallel_degree = {plan.ep}",
        f"expert_tensor_parallel_degree = {plan.etp}",
    ]
    if plan.vpp > 1:
        lines.append(
            f"pipeline_parallel_layers_per_stage = {max(1, model.layers // (plan.pp * plan.vpp))}"
        )
    lines += [
        "",
        "[training]",
        f"local_batch_size = {local}",
        f"global_batch_size = {plan.global_batch_size}",
        f"seq_len = {model.seq_len}",
        'mixed_precision_param = "float16"'
        if precision == "fp16"
        else 'mixed_precision_param = "bfloat16"',
        "",
        "[activation_checkpoint]",
        f"mode = {_toml(plan.recompute)}",
    ]
    if plan.recompute == "selective":
        lines.append('selective_ac_option = "op"')
    if converter:
        lines += ["", f"[{converter}]"]
        if precision == "fp8-blockwise":
            lines.append('recipe_name = "rowwise"')
    return "\n".join(lines) + "\n"


def to_nemo(plan: ParallelPlan, model: ModelSpec, *, precision: str = "bf16") -> str:
    """A Megatron-Bridge / NeMo 2 recipe override YAML (the `ConfigContainer` field names)."""
    recompute = {"none": "null", "selective": "selective", "full": "full"}[plan.recompute]
    vpp = plan.vpp if plan.vpp > 1 else "null"
    mixed = {
        "bf16": "bf16_mixed",
        "fp16": "fp16_mixed",
        "fp8": "bf16_with_fp8_delayed_scaling_mixed",
        "fp8-blockwise": "bf16_with_fp8_subchannel_scaling_mixed",
        "mxfp8": "bf16_with_mxfp8_mixed",
        "nvfp4": "bf16_with_nvfp4_mixed",
    }.get(precision, "bf16_mixed")
    lines = [
        "model:",
        f"  tensor_model_parallel_size: {plan.tp}",
        f"  pipeline_model_parallel_size: {plan.pp}",
        f"  virtual_pipeline_model_parallel_size: {vpp}",
        f"  context_parallel_size: {plan.cp}",
        f"  expert_model_parallel_size: {plan.ep}",
        f"  expert_tensor_parallel_size: {plan.etp}",
        f"  sequence_parallel: {str(plan.sequence_parallel).lower()}",
        f"  recompute_granularity: {recompute}",
    ]
    if plan.recompute == "full":
        lines += ["  recompute_method: uniform", "  recompute_num_layers: 1"]
    lines.append(f"  seq_length: {model.seq_len}")
    lines += [
        "train:",
        f"  micro_batch_size: {plan.micro_batch_size}",
        f"  global_batch_size: {plan.global_batch_size}",
        "ddp:",
        f"  use_distributed_optimizer: {str(plan.distributed_optimizer).lower()}",
        f"  use_megatron_fsdp: {str(plan.fsdp != 'none').lower()}",
    ]
    if plan.fsdp != "none":
        lines.append(
            f"  data_parallel_sharding_strategy: {'optim_grads_params' if plan.fsdp == 'full' else 'optim_grads'}"
        )
    lines += [
        "optimizer:",
        f"  use_distributed_optimizer: {str(plan.distributed_optimizer).lower()}",
        f"mixed_precision: {mixed}",
    ]
    return "\n".join(lines) + "\n"


def framework_problems(plan: ParallelPlan, model: ModelSpec, fmt: str) -> list[str]:
    """Why framework `fmt` refuses this layout (empty if it accepts it)."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    if fmt in ("megatron", "nemo"):  # Megatron-Bridge builds on Megatron-LM's argument checks
        return megatron_problems(plan, model)
    return []


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
    problems = framework_problems(plan, model, fmt)
    if problems:
        raise ConfigError(f"{fmt} cannot run this plan: " + "; ".join(problems))
    if fmt == "megatron":
        overlaps = credited_overlaps(plan, accelerator, gpus_per_node)
        return to_megatron(
            plan, model, precision=precision, gpus_per_node=gpus_per_node, overlaps=overlaps
        )
    if fmt == "torchtitan":
        return to_torchtitan(plan, model, precision=precision)
    return to_nemo(plan, model, precision=precision)


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
    passed over. The first file is `out` (default `wanka-best-plan.<fmt>.<ext>`), later ones get `-2`,
    `-3`, ... before the extension.
    """
    written: list[Path] = []
    skipped: list[str] = []
    gpn = int(result.get("gpus_per_node") or accelerator.gpus_per_node)
    for rank, row in enumerate(result.get("top") or [], 1):
        plan = ParallelPlan(**row["parallelism"])
        problems = framework_problems(plan, model, fmt)
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
        path = _numbered(out or Path(f"wanka-best-plan.{fmt}.{EXTENSIONS[fmt]}"), len(written) + 1)
        path.write_text(text, encoding="utf-8")
        written.append(path)
        if len(written) == count:
            break
    return written, skipped


def _numbered(path: Path, i: int) -> Path:
    return path if i == 1 else path.with_name(f"{path.stem}-{i}{path.suffix}")

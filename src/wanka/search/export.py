"""Write a parallel plan as a training framework's own configuration.

- `megatron`: Megatron-LM `pretrain_gpt.py` command-line flags (`--tensor-model-parallel-size`, ...);
- `torchtitan`: a TorchTitan job-config TOML (`[parallelism]`, `[training]`, `[activation_checkpoint]`, ...);
- `nemo`: a Megatron-Bridge / NeMo 2 recipe override YAML (`model.tensor_model_parallel_size`, ...).

Names come from each framework's documented arguments (Megatron-LM `megatron/training/arguments.py`,
TorchTitan `torchtitan/config/job_config.py`, Megatron-Bridge `ConfigContainer`); options a framework lacks
are written as comments so nothing is silently lost.
"""

from __future__ import annotations

from wanka.errors import ConfigError
from wanka.parallel import ParallelPlan

__all__ = ["FORMATS", "export_plan", "to_megatron", "to_nemo", "to_torchtitan"]

FORMATS = ("megatron", "torchtitan", "nemo")

#: Megatron-LM / Transformer Engine fp8 recipes per wanka precision.
_MEGATRON_FP8 = {
    "fp8": ("hybrid", "delayed"),
    "fp8-blockwise": ("e4m3", "blockwise"),
    "mxfp8": ("e4m3", "mxfp8"),
}


def to_megatron(
    plan: ParallelPlan,
    *,
    precision: str = "bf16",
    seq_len: int | None = None,
    num_layers: int | None = None,
) -> str:
    """Megatron-LM flags, one per line with a trailing backslash (paste into a launch script)."""
    a = [f"--tensor-model-parallel-size {plan.tp}", f"--pipeline-model-parallel-size {plan.pp}"]
    if plan.vpp > 1:
        if num_layers and num_layers % (plan.pp * plan.vpp) == 0:
            a.append(
                f"--num-layers-per-virtual-pipeline-stage {num_layers // (plan.pp * plan.vpp)}"
            )
        else:
            a.append(f"--virtual-pipeline-model-parallel-size {plan.vpp}")
    a.append(f"--context-parallel-size {plan.cp}")
    if plan.ep > 1 or plan.etp > 1:
        a.append(f"--expert-model-parallel-size {plan.ep}")
        a.append(f"--expert-tensor-parallel-size {plan.etp}")
    if plan.sequence_parallel:
        a.append("--sequence-parallel")
    if plan.distributed_optimizer:
        a.append("--use-distributed-optimizer")
    if plan.fsdp == "full":
        a += ["--use-torch-fsdp2"]
    elif plan.fsdp == "grad_op":
        a += ["--use-custom-fsdp", "--data-parallel-sharding-strategy optim_grads"]
    if plan.recompute == "full":
        a += [
            "--recompute-granularity full",
            "--recompute-method uniform",
            "--recompute-num-layers 1",
        ]
    elif plan.recompute == "selective":
        a.append("--recompute-granularity selective")
    a += [
        f"--micro-batch-size {plan.micro_batch_size}",
        f"--global-batch-size {plan.global_batch_size}",
    ]
    if seq_len:
        a.append(f"--seq-length {seq_len}")
    if precision in ("bf16", "fp8", "fp8-blockwise", "mxfp8", "nvfp4"):
        a.append("--bf16")
    elif precision == "fp16":
        a.append("--fp16")
    if precision in _MEGATRON_FP8:
        fmt, recipe = _MEGATRON_FP8[precision]
        a += [f"--fp8-format {fmt}", f"--fp8-recipe {recipe}"]
    elif precision == "nvfp4":
        a += ["--fp4-format e2m1", "--fp4-recipe nvfp4"]
    return " \\\n".join(a) + "\n"


def _toml(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    return str(v)


def to_torchtitan(
    plan: ParallelPlan,
    *,
    precision: str = "bf16",
    seq_len: int | None = None,
    num_layers: int | None = None,
) -> str:
    """A TorchTitan job-config TOML fragment.

    TorchTitan shards with FSDP2 over `data_parallel_shard_degree` and replicates over
    `data_parallel_replicate_degree`: fsdp=full or a distributed optimizer maps to sharding over all dp
    ranks (HSDP is not chosen by this search), fsdp=none without one maps to pure replication (DDP).
    """
    shard = plan.fsdp != "none" or plan.distributed_optimizer
    lines = [
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
    if plan.vpp > 1 and num_layers:
        lines.append(
            f"pipeline_parallel_layers_per_stage = {max(1, num_layers // (plan.pp * plan.vpp))}"
        )
    if not plan.sequence_parallel and plan.tp > 1:
        lines.append(
            "# sequence parallel off in the plan; TorchTitan's TP always shards norms/dropout (SP)"
        )
    lines += [
        "",
        "[training]",
        f"local_batch_size = {plan.global_batch_size // plan.dp}",
        f"global_batch_size = {plan.global_batch_size}",
    ]
    if seq_len:
        lines.append(f"seq_len = {seq_len}")
    lines += [
        'mixed_precision_param = "bfloat16"'
        if precision != "fp16"
        else 'mixed_precision_param = "float16"',
        "",
        "[activation_checkpoint]",
        f"mode = {_toml({'none': 'none', 'selective': 'selective', 'full': 'full'}[plan.recompute])}",
    ]
    if plan.recompute == "selective":
        lines.append('selective_ac_option = "op"')
    if precision in ("fp8", "fp8-blockwise", "mxfp8", "nvfp4"):
        lines += [
            "",
            "[quantize.linear.float8]" if precision.startswith("fp8") else "[quantize.linear.mx]",
            f"# wanka precision {precision}",
        ]
        if precision == "fp8-blockwise":
            lines.append('recipe_name = "rowwise"')
        if precision == "nvfp4":
            lines.append("# nvfp4 is not a TorchTitan recipe; closest is mx quantisation")
    return "\n".join(lines) + "\n"


def to_nemo(
    plan: ParallelPlan,
    *,
    precision: str = "bf16",
    seq_len: int | None = None,
    num_layers: int | None = None,
) -> str:
    """A Megatron-Bridge / NeMo 2 recipe override YAML (the `ConfigContainer` field names)."""
    recompute = {"none": "null", "selective": "selective", "full": "full"}[plan.recompute]
    vpp = plan.vpp if plan.vpp > 1 else "null"
    mixed = {
        "bf16": "bf16_mixed",
        "fp16": "16-mixed",
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
    if seq_len:
        lines.append(f"  seq_length: {seq_len}")
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


def export_plan(
    plan: ParallelPlan,
    fmt: str,
    *,
    precision: str = "bf16",
    seq_len: int | None = None,
    num_layers: int | None = None,
) -> str:
    """The plan in framework `fmt` (one of FORMATS)."""
    fns = {"megatron": to_megatron, "torchtitan": to_torchtitan, "nemo": to_nemo}
    if fmt not in fns:
        raise ConfigError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    return fns[fmt](plan, precision=precision, seq_len=seq_len, num_layers=num_layers)

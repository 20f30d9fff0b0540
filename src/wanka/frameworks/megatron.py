"""Megatron-LM: a plan as a complete `pretrain_gpt.py` launch, and a launch back into a run spec.

Argument names are Megatron-LM's at tag `core_v0.16.1` (`megatron/training/arguments.py` plus the flags
it generates from `TransformerConfig`); the test suite feeds every export through that version's own
`parse_args` and `validate_args`, so a renamed flag upstream fails our tests rather than a user's launch.

One table (`_PARALLEL_FLAGS`, `_MODEL_FLAGS`) serves both directions, so export and import cannot drift.
What the prediction credits is switched on in the export: TP communication overlap (Transformer Engine
userbuffers, `--tp-comm-overlap`, which Megatron allows only with sequence parallelism), gradient-reduce and
parameter-gather overlap (`--overlap-grad-reduce`, `--overlap-param-gather`), grouped GEMM for experts.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from wanka.errors import ConfigError
from wanka.parallel import ParallelPlan
from wanka.workload.model import ModelSpec

__all__ = [
    "MEGATRON_VERSION",
    "Overlaps",
    "from_megatron",
    "megatron_problems",
    "to_megatron",
    "uneven_split",
]

MEGATRON_VERSION = "core_v0.16.1"

#: Megatron-LM / Transformer Engine low-precision recipes per wanka precision (`--fp8-format`,
#: `--fp8-recipe`, `--fp4-format`, `--fp4-recipe`; TransformerConfig fields of the same names).
_LOW_PRECISION = {
    "fp8": ("--fp8-format hybrid", "--fp8-recipe delayed"),
    "fp8-blockwise": ("--fp8-format e4m3", "--fp8-recipe blockwise"),
    "mxfp8": ("--fp8-format e4m3", "--fp8-recipe mxfp8"),
    "nvfp4": ("--fp4-format e2m1", "--fp4-recipe nvfp4"),
}
_PRECISION_OF = {tuple(f.split()[1] for f in v): k for k, v in _LOW_PRECISION.items()}

#: Plan field <-> Megatron flag for integer degrees and batch sizes.
_PARALLEL_FLAGS = {
    "tp": "--tensor-model-parallel-size",
    "pp": "--pipeline-model-parallel-size",
    "cp": "--context-parallel-size",
    "ep": "--expert-model-parallel-size",
    "etp": "--expert-tensor-parallel-size",
    "micro_batch_size": "--micro-batch-size",
    "global_batch_size": "--global-batch-size",
}
#: Model field <-> Megatron flag for integer shape fields.
_MODEL_FLAGS = {
    "layers": "--num-layers",
    "hidden": "--hidden-size",
    "heads": "--num-attention-heads",
    "ffn_hidden": "--ffn-hidden-size",
    "vocab": "--vocab-size",
    "seq_len": "--seq-length",
}
_MOE_FLAGS = {
    "experts": "--num-experts",
    "top_k": "--moe-router-topk",
    "expert_ffn": "--moe-ffn-hidden-size",
}
#: Flags a training launch needs to parse that say nothing about performance (synthetic data,
#: a tokenizer that needs no files, a short run); the importer ignores them.
_RUN_FLAGS = ["--tokenizer-type NullTokenizer", "--mock-data", "--train-iters 100", "--lr 1.0e-4"]


@dataclass(frozen=True)
class Overlaps:
    """Which communication the prediction hides, so the export switches the same overlap on."""

    tp: bool = True
    """TP all-gather/reduce-scatter overlapped with GEMMs (Transformer Engine userbuffers)."""
    dp: bool = True
    """Gradient reduce and parameter all-gather overlapped with backward/forward."""


def megatron_problems(plan: ParallelPlan, model: ModelSpec) -> list[str]:
    """Every reason Megatron-LM's `validate_args` (core_v0.16.1) refuses this layout; empty if none.

    Mirrors the assertions that a layout can trip: layer counts divisible by the (virtual) pipeline,
    heads and query groups by tp, torch-FSDP2 restrictions (wanka exports Megatron-FSDP instead, which
    has none of them), sequence parallelism required by TP overlap (then switched on by the export).
    """
    out = []
    if plan.vpp > 1 and model.layers % (plan.pp * plan.vpp):
        out.append(
            f"Megatron needs num_layers ({model.layers}) divisible by pp*vpp ({plan.pp * plan.vpp})"
        )
    elif plan.vpp == 1 and model.layers % plan.pp and uneven_split(model.layers, plan.pp) is None:
        out.append(f"Megatron cannot split {model.layers} layers over {plan.pp} pipeline stages")
    if model.heads % plan.tp:
        out.append(
            f"Megatron needs num_attention_heads ({model.heads}) divisible by tp ({plan.tp})"
        )
    if model.kv_heads != model.heads and model.kv_heads % plan.tp:
        out.append(
            f"Megatron needs num_query_groups ({model.kv_heads}) divisible by tp ({plan.tp})"
        )
    if plan.vpp > 1 and plan.pp == 1:
        out.append(
            "Megatron's interleaved schedule needs pipeline parallelism (vpp > 1 with pp = 1)"
        )
    if plan.fsdp != "none" and plan.distributed_optimizer:
        out.append("Megatron-FSDP replaces the distributed optimizer; the plan asks for both")
    return out


def _model_flags(m: ModelSpec) -> list[str]:
    a = [f"{flag} {getattr(m, k)}" for k, flag in _MODEL_FLAGS.items()]
    a.append(f"--max-position-embeddings {m.seq_len}")
    if m.kv_heads != m.heads:
        a += ["--group-query-attention", f"--num-query-groups {m.kv_heads}"]
    if m.head_dim and m.head_dim * m.heads != m.hidden:
        a.append(f"--kv-channels {m.head_dim}")
    a += {"swiglu": ["--swiglu"], "squared-relu": ["--squared-relu"]}.get(m.activation, [])
    if m.norm == "rmsnorm":
        a.append("--normalization RMSNorm")
    a.append("--position-embedding-type " + ("learned_absolute" if m.learned_positions else "rope"))
    if not m.tied_embeddings:
        a.append("--untie-embeddings-and-output-weights")
    if m.attention_bias != "all" and not m.mlp_bias:
        a.append("--disable-bias-linear")
        if m.attention_bias == "qkv":
            a.append("--add-qkv-bias")
    if m.qk_norm:
        a.append("--qk-layernorm")
    return a + _moe_flags(m) + _mla_flags(m)


def _moe_flags(m: ModelSpec) -> list[str]:
    if m.moe is None:
        return []
    moe = m.moe
    a = [f"{flag} {getattr(moe, k)}" for k, flag in _MOE_FLAGS.items()]
    a.append("--moe-grouped-gemm")
    if (
        moe.router_bias
    ):  # aux-loss-free balancing; TransformerConfig requires sigmoid scores with it
        a += ["--moe-router-enable-expert-bias", "--moe-router-score-function sigmoid"]
    if moe.shared_experts:
        width = moe.shared_experts * (moe.shared_expert_ffn or moe.expert_ffn)
        a.append(f"--moe-shared-expert-intermediate-size {width}")
    if moe.dense_layers:
        freq = [0] * moe.dense_layers + [1] * (m.layers - moe.dense_layers)
        a.append(shlex.quote("--moe-layer-freq=" + str(freq).replace(" ", "")))
    if m.mtp_layers:
        a.append(f"--mtp-num-layers {m.mtp_layers}")
    return a


def _mla_flags(m: ModelSpec) -> list[str]:
    if m.mla is None:
        return []
    mla = m.mla
    a = ["--multi-latent-attention", f"--kv-lora-rank {mla.kv_lora_rank}"]
    if mla.q_lora_rank is not None:
        a.append(f"--q-lora-rank {mla.q_lora_rank}")
    return a + [
        f"--qk-head-dim {mla.qk_nope_head_dim}",
        f"--qk-pos-emb-head-dim {mla.qk_rope_head_dim}",
        f"--v-head-dim {mla.v_head_dim}",
    ]


def uneven_split(layers: int, pp: int) -> tuple[int, int] | None:
    """Layers on the first and last stage when `layers` does not divide by `pp`: the middle stages take
    ceil(layers/pp) each and the first/last take the rest, as evenly as possible (Megatron's
    `--decoder-first-pipeline-num-layers` / `--decoder-last-pipeline-num-layers`)."""
    if pp < 3:
        return (layers // 2, layers - layers // 2) if pp == 2 else None
    middle = -(-layers // pp)
    rest = layers - (pp - 2) * middle
    first = rest // 2
    return (first, rest - first) if 1 <= first <= rest - first <= middle else None


def _parallel_flags(plan: ParallelPlan, m: ModelSpec, overlaps: Overlaps) -> list[str]:
    a = [f"{flag} {getattr(plan, k)}" for k, flag in _PARALLEL_FLAGS.items()]
    split = uneven_split(m.layers, plan.pp) if m.layers % plan.pp else None
    if split is not None:
        a += [
            f"--decoder-first-pipeline-num-layers {split[0]}",
            f"--decoder-last-pipeline-num-layers {split[1]}",
        ]
    if plan.vpp > 1:
        a.append(f"--num-layers-per-virtual-pipeline-stage {m.layers // (plan.pp * plan.vpp)}")
    tp_overlap = overlaps.tp and plan.tp > 1
    if plan.sequence_parallel or tp_overlap:
        a.append("--sequence-parallel")
    if tp_overlap:
        a.append("--tp-comm-overlap")
    if plan.fsdp != "none":
        strategy = "optim_grads_params" if plan.fsdp == "full" else "optim_grads"
        a += [
            "--use-megatron-fsdp",
            f"--data-parallel-sharding-strategy {strategy}",
            "--ckpt-format fsdp_dtensor",
        ]
    elif plan.distributed_optimizer:
        a.append("--use-distributed-optimizer")
    if overlaps.dp and plan.dp > 1:
        a.append("--overlap-grad-reduce")
        if plan.distributed_optimizer or plan.fsdp != "none":
            a.append("--overlap-param-gather")
    if plan.ep > 1:
        a.append("--moe-token-dispatcher-type alltoall")
    return a + _recompute_flags(plan)


def _recompute_flags(plan: ParallelPlan) -> list[str]:
    if plan.recompute == "full":
        return [
            "--recompute-granularity full",
            "--recompute-method uniform",
            "--recompute-num-layers 1",
        ]
    if plan.recompute == "selective":
        return ["--recompute-granularity selective"]
    return []


def to_megatron(
    plan: ParallelPlan,
    model: ModelSpec,
    *,
    precision: str = "bf16",
    gpus_per_node: int = 8,
    overlaps: Overlaps = Overlaps(),
) -> str:
    """A runnable Megatron-LM launch script (torchrun + `pretrain_gpt.py` with every flag)."""
    problems = megatron_problems(plan, model)
    if problems:
        raise ConfigError("Megatron-LM cannot run this plan: " + "; ".join(problems))
    a = _model_flags(model) + _parallel_flags(plan, model, overlaps)
    a.append("--fp16" if precision == "fp16" else "--bf16")
    a += list(_LOW_PRECISION.get(precision, ())) + _RUN_FLAGS
    nodes = max(1, plan.world_size // gpus_per_node)
    env = _env_lines(plan)
    head = [
        "#!/usr/bin/env bash",
        (
            f"# {model.name}: {plan.world_size} accelerators, generated by wanka for Megatron-LM "
            f"{MEGATRON_VERSION} argument names."
        ),
        *env,
        f"torchrun --nnodes {nodes} --nproc-per-node {gpus_per_node} pretrain_gpt.py \\",
    ]
    return "\n".join(head) + "\n" + " \\\n".join("  " + x for x in a) + "\n"


def _env_lines(plan: ParallelPlan) -> list[str]:
    """Megatron asserts CUDA_DEVICE_MAX_CONNECTIONS=1 when TP/CP run without FSDP (before Blackwell)."""
    if (plan.tp > 1 or plan.cp > 1) and plan.fsdp == "none":
        return ["export CUDA_DEVICE_MAX_CONNECTIONS=1"]
    return []


# ---------------------------------------------------------------- import


def _tokens(text: str) -> list[str]:
    """The argument tokens of a launch script or a plain flag string (comments and `\\` joins removed)."""
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    toks = shlex.split(" ".join(ln.rstrip().removesuffix("\\") for ln in lines))
    for i, t in enumerate(toks):
        if t.endswith(".py"):
            return toks[i + 1 :]
    first = next((i for i, t in enumerate(toks) if t.startswith("--")), len(toks))
    return toks[first:]


def _flag_values(toks: list[str]) -> dict[str, str | bool]:
    out: dict[str, str | bool] = {}
    i = 0
    while i < len(toks):
        t = toks[i]
        if not t.startswith("--"):
            raise ConfigError(f"megatron arguments: unexpected value {t!r}; expected a --flag")
        if "=" in t:
            k, v = t.split("=", 1)
            out[k] = v
        elif i + 1 < len(toks) and not toks[i + 1].startswith("--"):
            out[t] = toks[i + 1]
            i += 1
        else:
            out[t] = True
        i += 1
    return out


def _int(flags: dict[str, Any], flag: str) -> int:
    v = flags[flag]
    try:
        return int(v)
    except (TypeError, ValueError):
        raise ConfigError(f"megatron arguments: {flag} needs an integer, got {v!r}") from None


def _torchrun_count(text: str) -> tuple[int | None, int | None]:
    toks = shlex.split(text.replace("\\\n", " "), comments=True)
    if "torchrun" not in toks:
        return None, None
    after = toks[toks.index("torchrun") + 1 :]
    f = _flag_values(after[: next((i for i, t in enumerate(after) if t.endswith(".py")), 0)])
    nodes, per = f.get("--nnodes"), f.get("--nproc-per-node")
    if nodes is None or per is None:
        return None, None
    return int(str(nodes)) * int(str(per)), int(str(per))


def from_megatron(
    text: str, *, accelerator: str, count: int | None = None, name: str = "imported"
) -> dict[str, Any]:
    """A run spec (DESIGN.md format, as a mapping) from a Megatron-LM launch script or flag string."""
    flags = _flag_values(_tokens(text))
    missing = [f for f in _MODEL_FLAGS.values() if f != "--ffn-hidden-size" and f not in flags]
    if missing:
        raise ConfigError(
            f"megatron arguments: {', '.join(missing)} missing; a run spec needs them"
        )
    run_count, per_node = _torchrun_count(text)
    count = count or run_count
    if count is None:
        raise ConfigError("megatron arguments: no torchrun --nnodes/--nproc-per-node; give --count")
    model = _model_from_flags(flags, name)
    par: dict[str, Any] = {k: _int(flags, f) for k, f in _PARALLEL_FLAGS.items() if f in flags}
    if "--num-layers-per-virtual-pipeline-stage" in flags:
        per_stage = _int(flags, "--num-layers-per-virtual-pipeline-stage")
        par["vpp"] = model["layers"] // (par.get("pp", 1) * per_stage)
    par["sequence_parallel"] = bool(flags.get("--sequence-parallel", False))
    par["distributed_optimizer"] = bool(flags.get("--use-distributed-optimizer", False))
    par["fsdp"] = _fsdp_of(flags)
    par["recompute"] = str(flags.get("--recompute-granularity", "none"))
    par["tp_comm_overlap"] = bool(flags.get("--tp-comm-overlap", False))
    hardware: dict[str, Any] = {"accelerator": accelerator, "count": count}
    if per_node:
        hardware["gpus_per_node"] = per_node
    return {
        "id": name,
        "framework": "megatron",
        "model": model,
        "hardware": hardware,
        "parallelism": par,
        "precision": _precision_of(flags),
    }


def _fsdp_of(flags: dict[str, Any]) -> str:
    if not flags.get("--use-megatron-fsdp") and not flags.get("--use-torch-fsdp2"):
        return "none"
    strategy = flags.get("--data-parallel-sharding-strategy", "optim_grads_params")
    return "full" if strategy == "optim_grads_params" else "grad_op"


def _precision_of(flags: dict[str, Any]) -> str:
    if "--fp8-format" in flags or "--fp4-format" in flags:
        key = (
            (str(flags["--fp8-format"]), str(flags.get("--fp8-recipe", "delayed")))
            if "--fp8-format" in flags
            else (str(flags["--fp4-format"]), str(flags.get("--fp4-recipe", "nvfp4")))
        )
        if key not in _PRECISION_OF:
            raise ConfigError(f"megatron arguments: no wanka precision for format/recipe {key}")
        return _PRECISION_OF[key]
    return "fp16" if flags.get("--fp16") else "bf16" if flags.get("--bf16") else "fp32"


def _model_from_flags(flags: dict[str, Any], name: str) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name}
    m.update({k: _int(flags, f) for k, f in _MODEL_FLAGS.items() if f in flags})
    m["kv_heads"] = (
        _int(flags, "--num-query-groups") if "--num-query-groups" in flags else m["heads"]
    )
    if "--num-experts" in flags:
        moe = {k: _int(flags, f) for k, f in _MOE_FLAGS.items() if f in flags}
        freq = str(flags.get("--moe-layer-freq", ""))
        moe["dense_layers"] = freq.count("0") if freq.startswith("[") else 0
        if flags.get("--moe-router-enable-expert-bias"):
            moe["router_bias"] = True
        if "--moe-shared-expert-intermediate-size" in flags:
            moe["shared_experts"] = 1
            moe["shared_expert_ffn"] = _int(flags, "--moe-shared-expert-intermediate-size")
        m["moe"] = moe
    if "--mtp-num-layers" in flags:
        m["mtp_layers"] = _int(flags, "--mtp-num-layers")
    return m

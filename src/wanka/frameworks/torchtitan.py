"""TorchTitan: a plan as a torchtitan 0.3 config function, and such a function back into a run spec.

torchtitan 0.3 dropped the TOML job files: a job is a Python *config function* returning a
`Trainer.Config` (`torchtitan/models/<model>/config_registry.py`), selected with `--module M --config F`
and overridable with `--<section>.<option>` flags (`torchtitan/config/manager.py`, `ConfigManager`). The
export is such a module: it starts from torchtitan's own config function for the model (`llama3_70b`,
`deepseek_v3_671b`, ...) and replaces the layout, batch, precision converters, compile and activation
checkpointing from literal tables that the importer reads back (`ast.literal_eval`, nothing executed).

Batch semantics (`trainer.py`): `training.local_batch_size` is what one data-parallel rank runs per
gradient-accumulation step; torchtitan accumulates `global / (local * dp)` steps. Without pipelining the
local batch is the plan's micro-batch; with pipelining it is one step's whole per-rank batch, cut into
pipeline micro-batches of `parallelism.pipeline_parallel_microbatch_size`.

The test suite runs every export through torchtitan's own `ConfigManager.parse_args` (which builds the
`Trainer.Config` and runs its checks), `ParallelDims` and the model's `update_from_config`.
"""

from __future__ import annotations

import ast
from dataclasses import replace
from typing import Any

from wanka.errors import ConfigError
from wanka.parallel import ParallelPlan
from wanka.workload.model import ModelSpec

__all__ = [
    "TORCHTITAN_VERSION",
    "TORCHTITAN_DIMS",
    "from_torchtitan_config",
    "to_torchtitan",
    "torchtitan_problems",
]

TORCHTITAN_VERSION = "0.3.0"

#: wanka preset -> (torchtitan model module, its config function, model flavour).
_MODELS = {
    "llama3-8b": ("llama3", "llama3_8b", "8B"),
    "llama3-70b": ("llama3", "llama3_70b", "70B"),
    "llama3.1-405b": ("llama3", "llama3_405b", "405B"),
    "deepseek-v3": ("deepseek_v3", "deepseek_v3_671b", "671B"),
}
_PRESET_OF = {v[1]: k for k, v in _MODELS.items()}

#: wanka precision -> torchtitan model converters (`torchtitan.components.quantization`): dense Linear
#: layers, and for MoE models the grouped expert GEMMs too. torchtitan's float8 recipes are rowwise.
_CONVERTERS = {
    "fp8": ("Float8LinearConverter", "Float8GroupedExpertsConverter"),
    "mxfp8": ("MXFP8LinearConverter", "MXFP8GroupedExpertsConverter"),
}
_PRECISION_OF = {v[0]: k for k, v in _CONVERTERS.items()}
_AC = {"none": None, "selective": "SelectiveAC", "full": "FullAC"}

#: Search dimensions torchtitan can run: FSDP2 sharding (it has no ZeRO-1 distributed optimizer, and
#: DDP only without other parallelism), no separate expert tensor parallelism (its experts shard over
#: the ranks of dp_shard * cp * tp).
TORCHTITAN_DIMS: dict[str, tuple[Any, ...]] = {
    "fsdp": ("full", "grad_op"),
    "distributed_optimizer": (False,),
    "etp": (1,),
}


def preset_of(model: ModelSpec) -> str | None:
    """The shipped preset this model is (any sequence length), if torchtitan has a config for it."""
    from wanka.workload.presets import get_model

    for pid in _MODELS:
        if replace(get_model(pid), seq_len=model.seq_len) == model:
            return pid
    return None


def torchtitan_problems(plan: ParallelPlan, model: ModelSpec, precision: str = "bf16") -> list[str]:
    """Every reason torchtitan 0.3 cannot run this plan as stated (empty if none)."""
    out = []
    if preset_of(model) is None:
        out.append(
            f"torchtitan {TORCHTITAN_VERSION} has no config function for this model "
            f"(it has {', '.join(_MODELS)})"
        )
    if plan.fsdp == "none":
        out.append(
            "torchtitan shards data parallelism with FSDP2; it has no ZeRO-1 or plain DDP here"
        )
    if plan.etp != 1:
        out.append("torchtitan has no expert tensor parallelism (experts shard over dp*cp*tp)")
    if plan.ep > 1 and (plan.dp * plan.cp * plan.tp) % plan.ep:
        out.append(f"torchtitan needs ep ({plan.ep}) to divide dp*cp*tp")
    if plan.vpp > 1 and (plan.pp == 1 or model.layers % (plan.pp * plan.vpp)):
        out.append("torchtitan's interleaved schedule needs pp > 1 and layers divisible by pp*vpp")
    if precision not in ("bf16", *_CONVERTERS):
        out.append(f"torchtitan {TORCHTITAN_VERSION} has no {precision} training recipe")
    sp = plan.tp if plan.sequence_parallel else 1
    if model.seq_len % (sp * (2 * plan.cp if plan.cp > 1 else 1)):
        out.append("torchtitan needs seq_len divisible by tp (with SP) times 2*cp")
    return out


def _py(v: dict[str, Any]) -> str:
    body = "".join(f"    {k!r}: {x!r},\n" for k, x in v.items())
    return "{\n" + body + "}"


def _parallelism(plan: ParallelPlan, model: ModelSpec) -> dict[str, Any]:
    """torchtitan's `parallelism` section for this plan."""
    parallelism: dict[str, Any] = {
        "data_parallel_replicate_degree": 1,
        "data_parallel_shard_degree": plan.dp,
        "fsdp_reshard_after_forward": "always" if plan.fsdp == "full" else "never",
        "tensor_parallel_degree": plan.tp,
        "enable_sequence_parallel": plan.sequence_parallel,
        "pipeline_parallel_degree": plan.pp,
        "pipeline_parallel_schedule": "Interleaved1F1B" if plan.vpp > 1 else "1F1B",
        "pipeline_parallel_microbatch_size": plan.micro_batch_size,
        "context_parallel_degree": plan.cp,
        "expert_parallel_degree": plan.ep,
    }
    if plan.vpp > 1:
        parallelism["pipeline_parallel_layers_per_stage"] = model.layers // (plan.pp * plan.vpp)
    return parallelism


def _training(plan: ParallelPlan, model: ModelSpec) -> dict[str, Any]:
    """torchtitan's `training` section: without pipelining local_batch_size is the micro-batch
    (torchtitan accumulates up to the global batch); with it, the per-rank step batch."""
    local = plan.micro_batch_size if plan.pp == 1 else plan.global_batch_size // plan.dp
    return {
        "local_batch_size": local,
        "global_batch_size": plan.global_batch_size,
        "seq_len": model.seq_len,
        "mixed_precision_param": "bfloat16",
        # torchtitan's CUDA graphs refuse pipelining and host-synchronising expert dispatch
        "disable_cuda_graphs": plan.pp > 1 or plan.ep > 1,
    }


def to_torchtitan(
    plan: ParallelPlan,
    model: ModelSpec,
    *,
    precision: str = "bf16",
    gpus_per_node: int = 8,
    tp_overlap: bool = False,
) -> str:
    """A torchtitan 0.3 config module (one config function, `wanka_plan`) for this plan."""
    problems = torchtitan_problems(plan, model, precision)
    if problems:
        raise ConfigError("torchtitan cannot run this plan: " + "; ".join(problems))
    module, base, flavour = _MODELS[preset_of(model) or ""]
    parallelism, training = _parallelism(plan, model), _training(plan, model)
    converters = _CONVERTERS.get(precision, ())[: 2 if model.moe else 1]
    compile_on = tp_overlap or bool(converters)
    comp = {
        "enable": compile_on,
        "components": ["model", "loss"] if compile_on else ["loss"],
        "enable_async_tensor_parallel": tp_overlap,
    }
    ac = _AC[plan.recompute]
    imports = [
        "from dataclasses import replace",
        "",
        *(
            ["from torchtitan.components.quantization import " + ", ".join(converters)]
            if converters
            else []
        ),
        *([f"from torchtitan.distributed.activation_checkpoint import {ac}"] if ac else []),
        f"from torchtitan.models.{module} import model_registry",
        f"from torchtitan.models.{module}.config_registry import {base}",
        "from torchtitan.trainer import Trainer",
    ]
    nodes = max(1, plan.world_size // gpus_per_node)
    conv_list = ", ".join(f"{c}.Config(model_compile_enabled={compile_on})" for c in converters)
    body = [
        f"    config = {base}()",
        *(
            [f"    config.model_spec = model_registry({flavour!r}, converters=[{conv_list}])"]
            if converters
            else []
        ),
        "    config.parallelism = replace(config.parallelism, **PARALLELISM)",
        "    config.training = replace(config.training, **TRAINING)",
        "    config.compile = replace(config.compile, **COMPILE)",
        f"    config.activation_checkpoint = {f'{ac}.Config()' if ac else 'None'}",
        "    return config",
    ]
    return "\n".join(
        [
            f'"""{model.name} on {plan.world_size} accelerators: a torchtitan {TORCHTITAN_VERSION} '
            "config function written by wanka.",
            "",
            "Launch with this file importable (e.g. on PYTHONPATH as wanka_plan.py):",
            f"  torchrun --nnodes {nodes} --nproc-per-node {gpus_per_node} -m torchtitan.train \\",
            "    --module wanka_plan --config wanka_plan",
            '"""',
            "",
            *imports,
            "",
            f"WORLD_SIZE = {plan.world_size}",
            f"PRECISION = {precision!r}",
            f"PARALLELISM = {_py(parallelism)}",
            f"TRAINING = {_py(training)}",
            f"COMPILE = {_py(comp)}",
            "",
            "",
            "def wanka_plan() -> Trainer.Config:",
            *body,
            "",
        ]
    )


def _literals(tree: ast.Module) -> tuple[dict[str, Any], str | None, str | None]:
    """Top-level literal assignments, the base config function imported and the AC class used."""
    names: dict[str, Any] = {}
    base = ac = None
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            t = node.targets[0]
            if isinstance(t, ast.Name) and t.id.isupper():
                try:
                    names[t.id] = ast.literal_eval(node.value)
                except ValueError:
                    pass
            elif isinstance(t, ast.Attribute) and t.attr == "activation_checkpoint":
                v = node.value
                if isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute):
                    ac = ast.unparse(v.func.value)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").endswith(".config_registry"):
            base = node.names[0].name
    return names, base, ac


def from_torchtitan_config(
    text: str, *, accelerator: str, model: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A run spec from a torchtitan 0.3 config module written like `to_torchtitan` writes it."""
    try:
        tree = ast.parse(text)
    except SyntaxError as e:
        raise ConfigError(f"torchtitan config: not Python ({e.msg}, line {e.lineno})") from None
    names, base, ac = _literals(tree)
    par, train = names.get("PARALLELISM"), names.get("TRAINING")
    if not isinstance(par, dict) or not isinstance(train, dict):
        raise ConfigError("torchtitan config: PARALLELISM and TRAINING tables are missing")
    if model is None:
        if base not in _PRESET_OF:
            raise ConfigError(
                f"torchtitan config: base config {base!r} has no wanka preset; give --model"
            )
        model = {"preset": _PRESET_OF[base]}
    deg = {
        "tp": int(par.get("tensor_parallel_degree", 1)),
        "pp": int(par.get("pipeline_parallel_degree", 1)),
        "cp": int(par.get("context_parallel_degree", 1)),
        "ep": int(par.get("expert_parallel_degree", 1)),
    }
    shard, rep = (
        int(par.get("data_parallel_shard_degree", 1)),
        int(par.get("data_parallel_replicate_degree", 1)),
    )
    dp = shard * rep
    count = int(names.get("WORLD_SIZE") or dp * deg["tp"] * deg["pp"] * deg["cp"])
    local, gbs = int(train["local_batch_size"]), int(train.get("global_batch_size", -1))
    gbs = local * dp if gbs <= 0 else gbs
    mbs = int(par.get("pipeline_parallel_microbatch_size", 1)) if deg["pp"] > 1 else local
    vpp = 1
    if "Interleaved" in str(par.get("pipeline_parallel_schedule", "")):
        per = par.get("pipeline_parallel_layers_per_stage")
        n = int(model.get("layers") or _preset_layers(model))
        vpp = n // (deg["pp"] * int(per)) if per else 2
    # torchtitan wraps with FSDP2 whenever it does not run plain DDP (replicate > 1, shard 1)
    reshard = par.get("fsdp_reshard_after_forward")
    fsdp = "none" if shard == 1 and rep > 1 else ("grad_op" if reshard == "never" else "full")
    recompute = {None: "none", "SelectiveAC": "selective", "FullAC": "full"}.get(ac)
    if recompute is None:
        raise ConfigError(
            f"torchtitan config: activation checkpointing {ac!r} has no wanka equivalent"
        )
    precision = str(names.get("PRECISION") or _precision_from_text(text))
    seq = train.get("seq_len")
    comp = names.get("COMPILE") or {}
    return {
        "id": "torchtitan-import",
        "model": dict(model) | ({"seq_len": int(seq)} if seq else {}),
        "hardware": {"accelerator": accelerator, "count": count},
        "parallelism": deg
        | {
            "vpp": vpp,
            "etp": 1,
            "dp": dp,
            "fsdp": fsdp,
            "distributed_optimizer": False,
            "sequence_parallel": bool(par.get("enable_sequence_parallel", deg["tp"] > 1)),
            "recompute": recompute,
            "micro_batch_size": mbs,
            "global_batch_size": gbs,
            "tp_comm_overlap": bool(comp.get("enable_async_tensor_parallel", False)),
        },
        "precision": precision,
    }


def _preset_layers(model: dict[str, Any]) -> int:
    from wanka.workload.presets import get_model

    return get_model(str(model.get("preset"))).layers


def _precision_from_text(text: str) -> str:
    for cls, prec in _PRECISION_OF.items():
        if cls in text:
            return prec
    return "bf16"

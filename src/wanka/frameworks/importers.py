"""Other tools' job descriptions as wanka run specs (the DESIGN.md format, as a mapping).

- TorchTitan job TOML (what `search --export torchtitan` writes, and TorchTitan's own `[parallelism]`
  / `[training]` / `[activation_checkpoint]` sections): the layout and batch; the model comes from
  `--model` (TorchTitan names a model by `name` + `flavor`, not by its shape).
- Calculon (calculon-ai/calculon): an application JSON (model shape), an execution JSON (layout) and
  optionally a system JSON, whose float16 matrix peak and first-level memory pick the nearest catalog chip.
Megatron-LM launches are read by `wanka.frameworks.megatron.from_megatron`, from the same flag table
that writes them.
"""

from __future__ import annotations

import math
import tomllib
from typing import Any

from wanka.catalogs import accelerators
from wanka.errors import ConfigError

__all__ = ["from_calculon", "from_torchtitan", "nearest_accelerator"]


def _section(cfg: dict[str, Any], name: str) -> dict[str, Any]:
    v = cfg.get(name, {})
    if not isinstance(v, dict):
        raise ConfigError(f"torchtitan config: [{name}] must be a table")
    return v


def from_torchtitan(
    text: str, *, model: dict[str, Any], accelerator: str, count: int | None = None
) -> dict[str, Any]:
    """A run spec from a TorchTitan job TOML; `model` is the run spec's model block."""
    try:
        cfg = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"torchtitan config: not valid TOML ({e})") from None
    par, train = _section(cfg, "parallelism"), _section(cfg, "training")
    ac = _section(cfg, "activation_checkpoint")
    shard = int(par.get("data_parallel_shard_degree", -1))
    replicate = int(par.get("data_parallel_replicate_degree", 1))
    deg = {
        "tp": int(par.get("tensor_parallel_degree", 1)),
        "pp": int(par.get("pipeline_parallel_degree", 1)),
        "cp": int(par.get("context_parallel_degree", 1)),
        "ep": int(par.get("expert_parallel_degree", 1)),
        "etp": int(par.get("expert_tensor_parallel_degree", 1)),
    }
    if shard == -1:  # TorchTitan: -1 = the remaining ranks
        if count is None:
            raise ConfigError("torchtitan config: data_parallel_shard_degree = -1 needs --count")
        shard = count // (deg["tp"] * deg["pp"] * deg["cp"] * replicate)
    dp = shard * replicate
    count = count or dp * deg["tp"] * deg["pp"] * deg["cp"]
    local = int(train.get("local_batch_size", 8))
    gbs = int(train.get("global_batch_size", -1))
    gbs = local * dp if gbs <= 0 else gbs
    mbs = int(par.get("pipeline_parallel_microbatch_size", 1)) if deg["pp"] > 1 else local
    layers_per = par.get("pipeline_parallel_layers_per_stage")
    vpp = 1
    if deg["pp"] > 1 and "Interleaved" in str(par.get("pipeline_parallel_schedule", "")):
        n = int(model.get("layers") or 0)
        vpp = max(1, n // (deg["pp"] * int(layers_per))) if layers_per and n else 2
    reshard = str(par.get("fsdp_reshard_after_forward", "default"))
    fsdp = "none" if shard == 1 else ("full" if reshard != "never" else "grad_op")
    mode = str(ac.get("mode", "selective"))
    if mode not in ("none", "selective", "full"):
        raise ConfigError(f"torchtitan config: activation_checkpoint.mode {mode!r} is not known")
    precision = "fp16" if train.get("mixed_precision_param") == "float16" else "bf16"
    conv = [str(c) for c in _section(cfg, "model").get("converters", [])]
    if any("float8" in c for c in conv):
        precision = "fp8"
    elif any(c.endswith(".mx") or c == "mx" for c in conv):
        precision = "mxfp8"
    seq = train.get("seq_len")
    m = dict(model) | ({"seq_len": int(seq)} if seq else {})
    parallelism = deg | {
        "vpp": vpp,
        "dp": dp,
        "fsdp": fsdp,
        "distributed_optimizer": False,
        "sequence_parallel": deg["tp"] > 1,
        "recompute": mode,
        "micro_batch_size": mbs,
        "global_batch_size": gbs,
    }
    return {
        "id": "torchtitan-import",
        "model": m,
        "hardware": {"accelerator": accelerator, "count": count},
        "parallelism": parallelism,
        "precision": precision,
    }


def nearest_accelerator(fp16_flops: float, memory_bytes: float) -> str:
    """The catalog chip closest to a dense fp16/bf16 matrix peak and a memory size (log distance)."""
    best, best_d = "", math.inf
    for acc in accelerators().values():
        peak = acc.peak_flops.get("bf16") or acc.peak_flops.get("fp16")
        if not peak or acc.hbm_bytes <= 0:
            continue
        d = math.log(peak / fp16_flops) ** 2 + math.log(acc.hbm_bytes / memory_bytes) ** 2
        if d < best_d:
            best, best_d = acc.id, d
    return best


def _need(d: dict[str, Any], what: str, keys: tuple[str, ...]) -> None:
    missing = [k for k in keys if k not in d]
    if missing:
        raise ConfigError(f"calculon {what}: missing {', '.join(missing)}")


def from_calculon(
    app: dict[str, Any],
    exe: dict[str, Any],
    system: dict[str, Any] | None = None,
    *,
    accelerator: str | None = None,
    name: str = "calculon-import",
) -> dict[str, Any]:
    """A run spec from Calculon's application (model), execution (layout) and system JSON."""
    _need(app, "application", ("hidden", "feedforward", "seq_size", "attn_heads", "num_blocks"))
    _need(exe, "execution", ("num_procs", "tensor_par", "pipeline_par", "data_par", "batch_size"))
    if accelerator is None:
        if system is None:
            raise ConfigError("calculon: give a system JSON or --accelerator")
        fp16 = system.get("matrix", {}).get("float16", {}).get("tflops")
        gib = system.get("mem1", {}).get("GiB")
        if not fp16 or not gib:
            raise ConfigError("calculon system: matrix.float16.tflops and mem1.GiB are needed")
        accelerator = nearest_accelerator(float(fp16) * 1e12, float(gib) * 2**30)
    heads = int(app["attn_heads"])
    kv = heads if exe.get("attention_type", "multihead") == "multihead" else 1
    model = {
        "name": name,
        "layers": int(app["num_blocks"]),
        "hidden": int(app["hidden"]),
        "heads": heads,
        "kv_heads": kv,
        "ffn_hidden": int(app["feedforward"]),
        "seq_len": int(app["seq_size"]),
    }
    recompute = {"none": "none", "attn_only": "selective", "full": "full"}.get(
        str(exe.get("activation_recompute", "none")), "none"
    )
    precision = {"float16": "fp16", "bfloat16": "bf16", "float8": "fp8", "float32": "fp32"}.get(
        str(exe.get("datatype", "bfloat16")), "bf16"
    )
    parallelism = {
        "tp": int(exe["tensor_par"]),
        "pp": int(exe["pipeline_par"]),
        "vpp": int(exe.get("pipeline_interleaving", 1)),
        "dp": int(exe["data_par"]),
        "distributed_optimizer": bool(exe.get("optimizer_sharding", False)),
        "sequence_parallel": str(exe.get("tensor_par_comm_type", "ar")) == "rs_ag",
        "recompute": recompute,
        "micro_batch_size": int(exe.get("microbatch_size", 1)),
        "global_batch_size": int(exe["batch_size"]),
    }
    return {
        "id": name,
        "model": model,
        "hardware": {"accelerator": accelerator, "count": int(exe["num_procs"])},
        "parallelism": parallelism,
        "precision": precision,
    }

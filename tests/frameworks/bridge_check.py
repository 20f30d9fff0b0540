"""Check Megatron-Bridge override YAMLs against the megatron-core classes Bridge's ConfigContainer is made of.

Usage (with a Python that has torch and megatron-core 0.16.1, see .ci/frameworks.sh):
    python bridge_check.py ARCH FILE.yaml [FILE.yaml ...]
Megatron-Bridge itself does not import on a CPU machine (its model package imports Transformer Engine),
so this checks each block with the megatron-core 0.16.1 dataclass Bridge's own config subclasses
(megatron-bridge 0.3.1, `megatron/bridge/training/config.py`, which pins megatron-core < 0.17):
  model:     GPTModelProvider is a `TransformerConfig` (`MLATransformerConfig` with multi-latent
             attention): every key must be a field, and the constructor's `__post_init__` checks run
             (with the dtypes Bridge's mixed-precision recipe sets); `seq_length`, `vocab_size`,
             `share_embeddings_and_output_weights` are the provider's own (GPTModelProvider fields);
  ddp:       `DistributedDataParallelConfig`;   optimizer: `OptimizerConfig`;
  train:     micro_batch_size, global_batch_size (Bridge `TrainingConfig`);
  comm_overlap: tp_comm_overlap (Bridge `CommOverlapConfig`);
  mixed_precision: one of the recipe names below.
Prints one JSON line per file: {"file", "ok": true} or {"file", "ok": false, "error"}; exit 0.
"""

import contextlib
import dataclasses
import io
import json
import os
import sys
import traceback
import warnings

#: The recipe functions of megatron-bridge 0.3.1 `megatron/bridge/training/mixed_precision.py`
#: (Apache-2.0, NVIDIA), which `get_mixed_precision_config(name)` looks up by name.
BRIDGE_MIXED_PRECISION = {
    "bf16_mixed",
    "fp16_mixed",
    "bf16_with_fp8_delayed_scaling_mixed",
    "fp16_with_fp8_delayed_scaling_mixed",
    "bf16_with_mxfp8_mixed",
    "fp16_with_mxfp8_mixed",
    "bf16_with_fp8_current_scaling_mixed",
    "nemotron_h_bf16_with_fp8_current_scaling_mixed",
    "nanov2_bf16_with_fp8_current_scaling_mixed",
    "fp16_with_fp8_current_scaling_mixed",
    "bf16_with_fp8_subchannel_scaling_mixed",
    "fp16_with_fp8_subchannel_scaling_mixed",
    "bf16_with_nvfp4_mixed",
}
PROVIDER_ONLY = {"seq_length", "vocab_size", "share_embeddings_and_output_weights"}
SECTIONS = {"model", "train", "ddp", "comm_overlap", "optimizer", "mixed_precision"}


def _build(cls, values, extra=None):
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"{cls.__name__} has no field {', '.join(unknown)}")
    return cls(**values, **(extra or {}))


def check(path, arch):
    import torch
    import yaml
    from megatron.core.distributed import DistributedDataParallelConfig
    from megatron.core.optimizer import OptimizerConfig
    from megatron.core.transformer.transformer_config import (
        MLATransformerConfig,
        TransformerConfig,
    )

    torch.cuda.get_device_capability = lambda *a, **k: (arch, 0)
    cfg = yaml.safe_load(open(path))
    try:
        if set(cfg) - SECTIONS:
            raise ValueError(f"unknown sections {sorted(set(cfg) - SECTIONS)}")
        mixed = cfg["mixed_precision"]
        if mixed not in BRIDGE_MIXED_PRECISION:
            raise ValueError(f"no Megatron-Bridge mixed-precision recipe {mixed!r}")
        fp16 = mixed.startswith("fp16")
        dtype = torch.float16 if fp16 else torch.bfloat16
        model = {k: v for k, v in cfg["model"].items() if k not in PROVIDER_ONLY}
        cls = MLATransformerConfig if model.get("multi_latent_attention") else TransformerConfig
        dtypes = {"bf16": not fp16, "fp16": fp16, "params_dtype": dtype, "pipeline_dtype": dtype}
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _build(cls, model, dtypes)
            _build(DistributedDataParallelConfig, cfg["ddp"])
            _build(OptimizerConfig, cfg["optimizer"])
        if set(cfg["train"]) - {"micro_batch_size", "global_batch_size"}:
            raise ValueError(f"train: unknown {sorted(cfg['train'])}")
        if set(cfg["comm_overlap"]) - {"tp_comm_overlap"}:
            raise ValueError(f"comm_overlap: unknown {sorted(cfg['comm_overlap'])}")
    except Exception as e:  # noqa: BLE001 - every refusal is reported, not raised
        where = traceback.extract_tb(e.__traceback__)[-1]
        msg = f"{type(e).__name__} at {os.path.basename(where.filename)}:{where.lineno}: {e}"
        return {"file": path, "ok": False, "error": msg}
    return {"file": path, "ok": True}


def main():
    arch, paths = int(sys.argv[1]), sys.argv[2:]
    for path in paths:
        print(json.dumps(check(path, arch)), flush=True)


if __name__ == "__main__":
    main()

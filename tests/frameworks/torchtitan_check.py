"""Run torchtitan config modules through torchtitan's own config parser and checks.

Usage (with a Python that has torch and torchtitan 0.3.0, see .ci/frameworks.sh):
    python torchtitan_check.py ARCH CONFIG.py [CONFIG.py ...]
ARCH is the NVIDIA compute capability major of the target chip: torchtitan asks the GPU for it (fp8
converters need 8.9 or later), so the check answers as that GPU would.
Each file is a config module (one function `wanka_plan`, `WORLD_SIZE`). For each, in order, as the
trainer does before it touches a GPU (`torchtitan/trainer.py`, `Trainer.__init__`):
  1. `ConfigManager().parse_args(["--module", M, "--config", "wanka_plan"])`: loads the function and
     rebuilds the `Trainer.Config` through tyro, running its `__post_init__` checks;
  2. `ParallelDims.from_config(config.parallelism, WORLD_SIZE)`: the degrees multiply to the world size;
  3. the trainer's sequence-length and batch-size checks, and the expert mesh constraint that
     `ParallelDims.build_mesh` relies on (`efsdp = dp_shard * cp * tp / ep`);
  4. `config.model_spec.model.update_from_config(config=config)`: head counts against TP, RoPE length.
Prints one JSON line per file: {"file", "ok": true, "local_batch_size", ...} or {"file", "ok": false,
"error"}; exit 0.
"""

import contextlib
import importlib
import io
import json
import logging
import os
import sys
import traceback
import warnings


def _trainer_checks(cfg, dims):
    """The checks `Trainer.__init__` makes before building the model (torchtitan 0.3.0)."""
    par, train = cfg.parallelism, cfg.training
    divisor = (dims.tp if par.enable_sequence_parallel else 1) * (2 * dims.cp if dims.cp > 1 else 1)
    if train.seq_len % divisor:
        raise ValueError(f"seq_len {train.seq_len} not divisible by {divisor}")
    batch_degree = dims.dp_replicate * dims.dp_shard
    gbs = train.global_batch_size
    if gbs < 0:
        gbs = train.local_batch_size * batch_degree
    if gbs % (train.local_batch_size * batch_degree):
        raise ValueError("global batch size must be multiple of local batch size times dp degree")
    if dims.ep > 1 and (dims.dp_shard * dims.cp * dims.tp) % dims.ep:
        raise ValueError(f"ep {dims.ep} does not divide dp_shard*cp*tp")
    return gbs // (train.local_batch_size * batch_degree)


def check(path):
    from torchtitan.config.manager import ConfigManager
    from torchtitan.distributed.parallel_dims import ParallelDims

    folder, name = os.path.split(os.path.abspath(path))
    sys.path.insert(0, folder)
    try:
        mod = importlib.import_module(name.removesuffix(".py"))
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cfg = ConfigManager().parse_args(
                    ["--module", mod.__name__, "--config", "wanka_plan"]
                )
                dims = ParallelDims.from_config(cfg.parallelism, mod.WORLD_SIZE)
                accumulation = _trainer_checks(cfg, dims)
                cfg.model_spec.model.update_from_config(config=cfg)
    except SystemExit:
        return {"file": path, "ok": False, "error": "torchtitan's parser rejected the config"}
    except Exception as e:  # noqa: BLE001 - every refusal is reported, not raised
        tb = traceback.extract_tb(e.__traceback__)
        where = tb[-1]
        msg = f"{type(e).__name__} at {os.path.basename(where.filename)}:{where.lineno}: {e}"
        return {"file": path, "ok": False, "error": msg}
    finally:
        sys.path.remove(folder)
    return {
        "file": path,
        "ok": True,
        "local_batch_size": cfg.training.local_batch_size,
        "gradient_accumulation_steps": accumulation,
        "pipeline_microbatches": (
            cfg.training.local_batch_size // cfg.parallelism.pipeline_parallel_microbatch_size
            if cfg.parallelism.pipeline_parallel_degree > 1
            else 1
        ),
        "dp_shard": dims.dp_shard,
        "converters": _converters(cfg),
        "activation_checkpoint": type(cfg.activation_checkpoint).__qualname__,
    }


def _converters(cfg):
    """The quantisation converters the model was built with (their Linear configs carry them)."""
    names = []
    for _, c, _, _ in cfg.model_spec.model.traverse(object, recurse=True):
        if "quantization" in type(c).__module__ and type(c).__qualname__ not in names:
            names.append(type(c).__qualname__)
    return sorted(names)


def main():
    logging.disable(logging.WARNING)
    arch, paths = int(sys.argv[1]), sys.argv[2:]
    import torch
    import torchtitan.trainer  # noqa: F401 - import first, so device detection at import sees CPU

    torch.cuda.is_available = lambda: True
    torch.cuda.get_device_capability = lambda *a, **k: (arch, 0)
    for path in paths:
        print(json.dumps(check(path)), flush=True)


if __name__ == "__main__":
    main()

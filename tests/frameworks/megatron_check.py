"""Run a Megatron-LM launch script's arguments through Megatron's own parse_args + validate_args.

Usage (with a Python that has torch and megatron-core 0.16.1):
    python megatron_check.py ARCH LAUNCH.sh [LAUNCH.sh ...]
Prints one JSON line per file: {"file", "ok": true} or {"file", "ok": false, "error": "..."}; exit 0.
"""

import contextlib
import io
import json
import os
import shlex
import sys
import traceback
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))


def _env_and_args(text):
    env, args = {}, []
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    for ln in lines:
        if ln.startswith("export "):
            k, v = ln[len("export ") :].split("=", 1)
            env[k.strip()] = v.strip()
    toks = shlex.split(
        " ".join(ln.rstrip().removesuffix("\\") for ln in lines if not ln.startswith("export "))
    )
    for i, t in enumerate(toks):
        if t.endswith(".py"):
            args = toks[i + 1 :]
    nodes = int(toks[toks.index("--nnodes") + 1]) if "--nnodes" in toks else 1
    per = int(toks[toks.index("--nproc-per-node") + 1]) if "--nproc-per-node" in toks else 1
    return env, args, nodes * per


def check(path, arch, A):
    env, args, world = _env_and_args(open(path).read())
    os.environ.pop("CUDA_DEVICE_MAX_CONNECTIONS", None)
    os.environ.update(env)
    os.environ.update({"WORLD_SIZE": str(world), "RANK": "0", "LOCAL_RANK": "0"})
    A.get_device_arch_version = lambda: arch
    A.torch.cuda.get_device_capability = lambda *a, **k: (arch, 0)
    sys.argv = ["pretrain_gpt.py", *args]
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                A.validate_args(A.parse_args())
    except SystemExit:
        return {"file": path, "ok": False, "error": "argparse rejected the arguments"}
    except (AssertionError, ValueError, RuntimeError) as e:
        tb = traceback.extract_tb(e.__traceback__)
        where = next((f for f in reversed(tb) if "arguments" in f.filename), tb[-1])
        msg = f"{type(e).__name__} at {os.path.basename(where.filename)}:{where.lineno}: {e}"
        return {"file": path, "ok": False, "error": msg + " | " + (where.line or "")}
    return {"file": path, "ok": True}


def main():
    arch, paths = int(sys.argv[1]), sys.argv[2:]
    import megatron

    megatron.__path__.append(os.path.join(HERE, "megatron_lm", "megatron"))
    from megatron.training import arguments as A

    for path in paths:
        print(json.dumps(check(path, arch, A)), flush=True)


if __name__ == "__main__":
    main()

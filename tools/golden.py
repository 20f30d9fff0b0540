"""Golden files: every `--json` command on the shipped examples, stored under tests/golden/.

    python tools/golden.py            # compare the current outputs with tests/golden/ (exit 1 on a diff)
    python tools/golden.py --write    # regenerate tests/golden/ (say why in the commit message)

The commands run in-process through the typer app (one interpreter, so the whole set stays fast);
stdout and the exit code are what is stored, with wall-clock
fields (TIMING_KEYS) masked. tests/golden/test_golden.py runs the same comparison.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"

# name -> argv (paths relative to the repository root). Keep each one small: the whole set must
# stay well under 30 s on a loaded 2-core box.
COMMANDS: dict[str, list[str]] = {
    "predict-llama3-70b": ["predict", "examples/llama3-70b-h100.yaml", "--json"],
    "predict-deepseek-v3": ["predict", "examples/deepseek-v3-h800.yaml", "--json"],
    "predict-published": ["predict", "examples/published-runs.yaml", "--json"],
    "validate-training": ["validate", "validation/training_runs.yaml", "--json"],
    "search-run-llama3-70b": [
        "search",
        "--run",
        "examples/search-llama3-70b.yaml",
        "--top",
        "5",
        "--json",
    ],
    "search-llama3-8b-counts": [
        "search",
        "--model",
        "llama3-8b",
        "--accelerator",
        "h100-sxm",
        "--counts",
        "16,32",
        "--global-batch-size",
        "128",
        "--seq-len",
        "4096",
        "--top",
        "5",
        "--json",
    ],
    "serve-predict-examples": ["serve", "predict", "examples/serve-specs.yaml", "--json"],
    "plan-center-small": ["plan", "tests/golden/inputs/center-small.yaml", "--no-report", "--json"],
    "plan-center-10k": ["plan", "examples/center-10k.yaml", "--no-report", "--json"],
    "fabric-design-rail": [
        "fabric",
        "design",
        "-t",
        "rail-optimized",
        "-n",
        "760",
        "-a",
        "h100-sxm",
        "--json",
    ],
    "fabric-design-fat-tree-taper": [
        "fabric",
        "design",
        "-t",
        "fat-tree",
        "-n",
        "24576",
        "--oversubscription",
        "1,7",
        "-a",
        "h100-sxm",
        "--json",
    ],
    "fabric-design-torus": [
        "fabric",
        "design",
        "-t",
        "torus",
        "-n",
        "4096",
        "--dims",
        "16x16x16",
        "--json",
    ],
    "fabric-design-dragonfly": ["fabric", "design", "-t", "dragonfly", "-n", "16384", "--json"],
    "fabric-compare-8k": ["fabric", "compare", "-n", "8192", "-a", "h100-sxm", "--json"],
    "fabric-graph-fat-tree": ["fabric", "graph", "-t", "fat-tree", "-n", "512", "--json"],
    "collective-allreduce": [
        "collective",
        "--op",
        "all-reduce",
        "--bytes",
        "1GiB",
        "--accelerator",
        "h100-sxm",
        "--gpus",
        "1024",
        "--json",
    ],
    "collective-alltoall-nvl72": [
        "collective",
        "--op",
        "all-to-all",
        "--bytes",
        "256MB",
        "--accelerator",
        "gb200",
        "--gpus",
        "144",
        "--json",
    ],
    "collective-allgather-railonly": [
        "collective",
        "--op",
        "all-gather",
        "--bytes",
        "64MB",
        "--accelerator",
        "h100-sxm",
        "--gpus",
        "256",
        "--topology",
        "rail-only",
        "--json",
    ],
    "catalog-list": ["catalog", "list", "--json"],
    "catalog-list-models": ["catalog", "list", "--kind", "models", "--json"],
    "catalog-show-h100": ["catalog", "show", "h100-sxm", "--json"],
    "catalog-show-deepseek": ["catalog", "show", "deepseek-v3", "--json"],
    "simulate-synthetic": [
        "simulate",
        "--trace",
        "synthetic:60",
        "--gpus",
        "64",
        "--policy",
        "tiresias",
        "--json",
    ],
    "simulate-itp": [
        "simulate",
        "--trace",
        "tests/sim/fixtures/itp_small.csv",
        "--gpus",
        "32",
        "--accelerator",
        "h100-sxm",
        "--json",
    ],
    "simulate-compare": [
        "simulate",
        "compare",
        "--policies",
        "fifo,fifo-backfill,sjf",
        "--trace",
        "synthetic:40",
        "--gpus",
        "32",
        "--json",
    ],
    "port-scan-nanogpt": ["port", "scan", "tests/port/data/nanogpt", "-t", "npu", "--json"],
    "port-report-mingpt": [
        "port",
        "report",
        "tests/port/data/mingpt",
        "-t",
        "rocm",
        "--run",
        "examples/llama3-70b-h100.yaml",
        "--json",
    ],
    "port-fix-nanogpt": ["port", "fix", "tests/port/data/nanogpt", "-t", "npu", "--json"],
}

# Checked by `python tools/golden.py` but left out of the pytest run (too slow for CI's budget);
# plan-center-small covers the same code paths in the test.
SLOW = {"plan-center-10k"}


# Wall-clock measurements inside the JSON: masked, since they differ on every run.
TIMING_KEYS = ("seconds", "rate_per_s", "wall_s", "events_per_s")
_TIMING = re.compile(r'^(\s*"(?:' + "|".join(TIMING_KEYS) + r')": )[-0-9.eE+]+(,?)$', re.MULTILINE)


def mask_timings(text: str) -> str:
    """Replace the value of every wall-clock key (one per line in indented JSON) by `<timing>`."""
    return _TIMING.sub(r"\1<timing>\2", text)


def run_one(argv: list[str]) -> str:
    """Run `wanka ARGV` in-process from the repository root; return stdout plus the exit code."""
    from typer.testing import CliRunner

    from wanka.cli.main import app

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        result = CliRunner().invoke(app, argv, env={"COLUMNS": "100", "NO_COLOR": "1"})
    finally:
        os.chdir(cwd)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise RuntimeError(f"wanka {' '.join(argv)} raised {result.exception!r}")
    out = mask_timings(result.stdout)
    return f"$ wanka {' '.join(argv)}\n# exit {result.exit_code}\n{out}"


def golden_path(name: str) -> Path:
    return GOLDEN / f"{name}.out"


def diff(name: str) -> str:
    """'' when `name`'s output matches its golden file, else a unified diff (first 60 lines)."""
    now = run_one(COMMANDS[name])
    path = golden_path(name)
    before = path.read_text() if path.exists() else ""
    if now == before:
        return ""
    lines = difflib.unified_diff(
        before.splitlines(), now.splitlines(), str(path), "now", lineterm="", n=1
    )
    return "\n".join(list(lines)[:60])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="regenerate tests/golden/*.out")
    ap.add_argument("names", nargs="*", help="only these (default: all)")
    args = ap.parse_args()
    names = args.names or list(COMMANDS)
    bad = 0
    for name in names:
        if args.write:
            golden_path(name).write_text(run_one(COMMANDS[name]))
            print(f"wrote {golden_path(name).relative_to(ROOT)}")
            continue
        d = diff(name)
        if d:
            bad += 1
            print(f"DIFFERS: {name}\n{d}")
    if not args.write:
        print(f"{len(names) - bad}/{len(names)} golden outputs identical")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

"""The "done when" figures of the structure work, measured now.

    python benchmarks/bench_structure.py            # all (about a minute; longer on a loaded box)
    python benchmarks/bench_structure.py --quick    # skip the 10,000-layout check and the static checks

Prints: golden outputs identical (tools/golden.py, every --json command on the shipped examples),
`wanka validate validation/training_runs.yaml` summary, the 10,000 random layouts on which predict,
the run-spec check and the search agree, function and file sizes over the house limits (src/wanka),
and the exit codes of ruff, ruff format, mypy and lint-imports.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))


def _load(path: Path, name: str):  # noqa: ANN202 - a module
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def goldens() -> None:
    golden = _load(ROOT / "tools" / "golden.py", "golden")
    t0 = time.perf_counter()
    bad = [n for n in golden.COMMANDS if golden.diff(n)]
    n = len(golden.COMMANDS)
    print(f"golden outputs identical: {n - len(bad)}/{n}  ({time.perf_counter() - t0:.0f} s)")
    for name in bad:
        print(f"  differs: {name}")


def validate_numbers() -> None:
    golden = _load(ROOT / "tools" / "golden.py", "golden")
    out = golden.run_one(golden.COMMANDS["validate-training"])
    summary = json.loads(out.split("\n", 2)[2])["summary"]
    dm = summary["dense_moe"]
    print(
        f"validate validation/training_runs.yaml: {summary['predicted']}/{summary['cases']} "
        f"predicted; tokens/s/GPU median |error| all {dm['all']['median_abs']:.4%}, "
        f"train {dm['train']['median_abs']:.4%}, held-out {dm['held_out']['median_abs']:.4%} "
        f"(p90 held-out {dm['held_out']['p90_abs']:.4%})"
    )


def layouts() -> None:
    test = _load(ROOT / "tests" / "search" / "test_one_validity.py", "one_validity")
    t0 = time.perf_counter()
    for preset, count, gbs in test.CASES:
        test.test_predict_and_search_agree_on_random_layouts(preset, count, gbs)
    n = len(test.CASES) * test.N_PER_CASE
    print(
        f"random layouts with the same verdict and reasons in predict, run-spec check, search and the "
        f"simulator's job-speed model: "
        f"{n}/{n} ({time.perf_counter() - t0:.0f} s)"
    )


def sizes() -> None:
    check = _load(ROOT / "tools" / "check_sizes.py", "check_sizes")
    found = check.oversized(ROOT / "src" / "wanka")
    funcs = [f for f in found if "file" not in f.split(": ", 1)[-1][:5]]
    files = [f for f in found if f.split(": ", 1)[-1].startswith("file")]
    print(f"functions over 80 lines: {len(funcs)}; files over 600 lines: {len(files)}")
    for line in found:
        print("  " + line.replace(str(ROOT) + "/", ""))


def static_checks() -> None:
    for cmd in (
        ["ruff", "check", "src", "tests", "tools", "benchmarks"],
        ["ruff", "format", "--check", "src", "tests", "tools", "benchmarks"],
        ["mypy"],
        ["lint-imports"],
    ):
        rc = subprocess.run(cmd, cwd=ROOT, capture_output=True).returncode
        print(f"{' '.join(cmd[:2]) if cmd[0] == 'ruff' else cmd[0]}: exit {rc}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    goldens()
    validate_numbers()
    if not args.quick:
        layouts()
    sizes()
    if not args.quick:
        static_checks()


if __name__ == "__main__":
    main()

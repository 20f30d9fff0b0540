"""Issue 17's figures: the top-10 plans of `search` on the examples (dense, MoE, CP, FP8), exported for each
framework and run through that framework's own checker; export -> import round trips.

Usage:  python benchmarks/framework_exports.py [--python .ci/frameworks-venv/bin/python]
Needs the frameworks venv of `.ci/frameworks.sh` (torch CPU, megatron-core 0.16.1, torchtitan 0.3.0).
Prints, per example and framework: plans in the top 10, exported, accepted by the checker, round trips
that give the same layout, the same re-export and the same prediction (every framework has an
importer).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from wanka.frameworks.bridge import from_bridge
from wanka.frameworks.megatron import from_megatron
from wanka.frameworks.torchtitan import from_torchtitan_config
from wanka.parallel import ParallelPlan
from wanka.perf import predict
from wanka.search.export import EXTENSIONS, export_plan, framework_problems
from wanka.spec import parse_run

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from frameworks.export_cases import CASES, export_row, top10  # noqa: E402  (the tests' example searches)

CHECKERS = {
    "megatron": "megatron_check.py",
    "torchtitan": "torchtitan_check.py",
    "nemo": "bridge_check.py",
}
IMPORTERS = {
    "megatron": lambda text, acc: from_megatron(text, accelerator=acc),
    "torchtitan": lambda text, acc: from_torchtitan_config(text, accelerator=acc),
    "nemo": lambda text, acc: from_bridge(text, accelerator=acc),
}


def _check(python: str, fmt: str, arch: int, paths: list[Path]) -> list[dict]:
    script = ROOT / "tests" / "frameworks" / CHECKERS[fmt]
    out = subprocess.run(
        [python, str(script), str(arch), *map(str, paths)], capture_output=True, text=True
    )
    return [json.loads(ln) for ln in out.stdout.splitlines() if ln.startswith("{")]


def _round_trip(fmt: str, text: str, plan: ParallelPlan, row: dict, acc, gpn: int) -> bool:
    spec = IMPORTERS[fmt](text, acc.id)
    run = parse_run(spec)
    same = asdict(run.parallelism) == asdict(plan) and spec["precision"] == row["precision"]
    again = export_plan(
        run.parallelism,
        fmt,
        model=run.model,
        accelerator=acc,
        precision=spec["precision"],
        gpus_per_node=gpn,
    )
    same = same and IMPORTERS[fmt](again, acc.id) == spec
    got = predict(run)["tokens_per_s_per_gpu"]
    return same and abs(got - row["tokens_per_s_per_gpu"]) <= 1e-9 * abs(got)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", default=str(ROOT / ".ci" / "frameworks-venv" / "bin" / "python"))
    args = ap.parse_args()
    arch = {"h100-sxm": 9, "h800": 9}
    print(
        "example  framework   top  exported  accepted  round-trip(same layout, re-import, prediction)"
    )
    for name, case in CASES.items():
        for fmt in CHECKERS:
            m, acc, res = top10(case, fmt)
            rows = res["top"]
            paths, trips = [], 0
            with tempfile.TemporaryDirectory() as tmp:
                for i, row in enumerate(rows):
                    plan = ParallelPlan(**row["parallelism"])
                    if framework_problems(plan, m, fmt, row["precision"]):
                        continue
                    text = export_row(plan, fmt, m, acc, row, res)
                    p = Path(tmp) / f"plan_{name}_{i}.{EXTENSIONS[fmt]}"
                    p.write_text(text)
                    paths.append(p)
                    if fmt in IMPORTERS:
                        trips += _round_trip(fmt, text, plan, row, acc, res["gpus_per_node"])
                verdicts = _check(args.python, fmt, arch[acc.id], paths)
            ok = sum(v["ok"] for v in verdicts)
            trip = f"{trips}/{len(paths)}" if fmt in IMPORTERS else "no importer"
            print(f"{name:8} {fmt:11} {len(rows):3}  {len(paths):8}  {ok:8}  {trip}", flush=True)


if __name__ == "__main__":
    main()

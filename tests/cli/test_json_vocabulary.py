"""Every command's `--json` against docs/json.md: snake_case keys, units in names, fractions, one key per idea."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from wanka.cli.main import app
from wanka.report.vocabulary import ALIASES, FRACTION_KEYS

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
TINY_SWEEP = {
    "name": "tiny",
    "models": ["llama3-8b"],
    "accelerators": ["h100-sxm"],
    "counts": [8],
    "networks": ["default"],
    "global_batch_size": 64,
    "precisions": ["bf16"],
    "top": 1,
}

COMMANDS = {
    "predict": ["predict", "examples/llama3-70b-h100.yaml"],
    "validate": ["validate", "examples/published-runs.yaml"],
    "search": [
        "search",
        "--model",
        "llama3-8b",
        "--accelerator",
        "h100-sxm",
        "--count",
        "8",
        "--global-batch-size",
        "64",
        "--top",
        "2",
    ],
    "plan": ["plan", "tests/cli/golden80/center-small.yaml", "--no-report"],
    "sweep": ["sweep", "{sweep}", "--workers", "1", "--out", "{out}"],
    "fabric-design": ["fabric", "design", "-t", "fat-tree", "-n", "1024"],
    "fabric-compare": ["fabric", "compare", "-n", "1024", "-a", "h100-sxm"],
    "collective": [
        "collective",
        "--op",
        "all-reduce",
        "--bytes",
        "1GiB",
        "--accelerator",
        "h100-sxm",
        "--gpus",
        "64",
    ],
    "simulate": ["simulate", "--trace", "synthetic:50", "--gpus", "64"],
    "port-scan": ["port", "scan", "tests/port/data/nanogpt", "--target", "npu"],
    "port-report": ["port", "report", "tests/port/data/nanogpt"],
    "catalog-list": ["catalog", "list"],
    "catalog-models": ["catalog", "list", "--kind", "models"],
    "catalog-traces": ["catalog", "list", "--kind", "traces"],
    "catalog-show": ["catalog", "show", "h100-sxm"],
}


def _walk(obj: Any, path: str = ""):
    """(path, parent dict, key, value) for every key in nested dicts and lists."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield path, obj, k, v
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk(v, f"{path}[]")


def _is_fraction_key(path: str, k: str) -> bool:
    in_efficiency = path.endswith(".efficiency") and k != "source"
    return k in FRACTION_KEYS or k.endswith(("_frac", "_fraction")) or in_efficiency


@pytest.fixture(scope="module")
def outputs(tmp_path_factory, request) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("vocab")
    (tmp / "tiny.yaml").write_text(yaml.safe_dump(TINY_SWEEP))
    got = {}
    import os

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        for name, argv in COMMANDS.items():
            argv = [a.replace("{sweep}", str(tmp / "tiny.yaml")) for a in argv]
            argv = [a.replace("{out}", str(tmp / "rows.csv")) for a in argv]
            r = runner.invoke(app, [*argv, "--json"])
            assert r.exit_code == 0, (name, r.output)
            got[name] = json.loads(r.stdout)
    finally:
        os.chdir(cwd)
    return got


@pytest.mark.parametrize("name", list(COMMANDS))
def test_json_follows_the_vocabulary(outputs, name):
    """The rules of docs/json.md hold for every key of this command's --json."""
    for path, parent, k, v in _walk(outputs[name]):
        by_id = path.rsplit(".", 1)[-1].startswith("by_") or path.endswith("peak_tflops")
        assert SNAKE.match(k) or by_id, f"{name}: key {path}.{k} is not snake_case"
        assert not k.endswith(("_pct", "_percent", "percent")), (
            f"{name}: {path}.{k} is a percentage"
        )
        if isinstance(v, float):
            assert math.isfinite(v), f"{name}: {path}.{k} = {v}"
        if _is_fraction_key(path, k) and isinstance(v, (int, float)) and not isinstance(v, bool):
            assert 0.0 <= v <= 1.5, f"{name}: {path}.{k} = {v} is not a fraction"
        for alias, key, beside in ALIASES:
            if k == alias and isinstance(v, (int, float)) and (beside is None or beside in parent):
                assert parent.get(key) == v, f"{name}: {path}.{alias} without {key} beside it"


def test_unified_keys_are_present(outputs):
    """The ideas the issue found under several names now share one key."""
    assert outputs["collective"]["accelerators"] == outputs["collective"]["gpus"] == 64
    assert outputs["fabric-compare"]["accelerators"] == 1024
    assert outputs["simulate"]["accelerators"] == 64 and "wall_s" in outputs["simulate"]
    assert outputs["search"]["count"] == 8 and "wall_s" in outputs["search"]
    assert all("wall_s" in outputs[n] for n in ("plan", "sweep", "port-scan", "fabric-compare"))

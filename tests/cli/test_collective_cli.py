"""Tests of `wanka collective` through typer's CliRunner on the real root app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from wanka.cli.main import app

runner = CliRunner()
CHECKS = yaml.safe_load(
    (Path(__file__).parents[1] / "topology" / "data" / "collective_checks.yaml").read_text()
)
BASE = [
    "collective",
    "--op",
    "all-reduce",
    "--bytes",
    "8GiB",
    "--accelerator",
    "h100-sxm",
    "--gpus",
    "8",
]


def _json(args: list[str]) -> dict:
    result = runner.invoke(app, args + ["--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _args_like_check_contracts(check: dict) -> list[str]:
    """Build the argument list exactly as shared/tools/check-contracts does."""
    i = dict(check["input"])
    args = ["collective", "--op", i.pop("op"), "--bytes", str(i.pop("bytes"))]
    if i.pop("in_network_reduction", False):
        args.append("--in-network-reduction")
    args += [x for k, v in i.items() for x in (f"--{k.replace('_', '-')}", str(v))]
    return args


def test_json_contract_keys() -> None:
    """--json prints time_s, algbw_gb_s, busbw_gb_s and algorithm (plus context keys)."""
    out = _json(BASE)
    assert {"time_s", "algbw_gb_s", "busbw_gb_s", "algorithm"} <= set(out)
    assert out["busbw_gb_s"] == pytest.approx(out["algbw_gb_s"] * 2 * 7 / 8)
    assert out["time_s"] == pytest.approx(8 * 2**30 / (out["algbw_gb_s"] * 1e9))
    assert out["bytes"] == 8 * 2**30 and out["gpus"] == 8


@pytest.mark.parametrize(
    "check", [c for c in CHECKS if c.get("set") == "public"], ids=lambda c: c["id"]
)
def test_public_checks_via_cli(check: dict) -> None:
    """Every public validation row passes through the CLI the way check-contracts runs it."""
    out = _json(_args_like_check_contracts(check))
    want = check["expect"]["busbw_gb_s"]
    assert abs(out["busbw_gb_s"] / want - 1) <= check["tolerance"]


def test_sizes_with_units_and_plain_bytes_agree() -> None:
    """--bytes accepts 8GiB, 512MB and plain byte counts."""
    assert _json(BASE)["time_s"] == _json(BASE[:4] + ["8589934592"] + BASE[5:])["time_s"]
    assert _json(BASE[:4] + ["512MB"] + BASE[5:])["bytes"] == 512_000_000


def test_small_group_lives_in_one_node() -> None:
    """A group smaller than a node defaults to one node; an NVL72 rack counts as one domain."""
    assert _json(BASE[:-1] + ["4"])["tier"] == "scale-up"
    out = _json(
        [
            "collective",
            "--op",
            "all-gather",
            "--bytes",
            "1GB",
            "--accelerator",
            "gb200",
            "--gpus",
            "72",
        ]
    )
    assert out["gpus_per_domain"] == 72 and out["tier"] == "scale-up"
    out = _json(BASE[:-1] + ["64", "--gpus-per-node", "8"])
    assert out["tier"] == "scale-out"


def test_topology_and_oversubscription_options() -> None:
    """--topology and --oversubscription change cross-pod all-to-all time; rings barely notice."""
    a2a = [
        "collective",
        "--op",
        "all-to-all",
        "--bytes",
        "1GiB",
        "--accelerator",
        "h100-sxm",
        "--gpus",
        "2048",
    ]
    flat = _json(a2a)["time_s"]
    tapered = _json(a2a + ["--oversubscription", "4"])["time_s"]
    torus = _json(a2a + ["--topology", "torus"])["time_s"]
    assert tapered > 2 * flat and torus > flat
    for topo in (
        "full-mesh",
        "fat-tree",
        "rail-optimized",
        "rail-only",
        "multi-plane",
        "dragonfly",
        "torus",
    ):
        assert _json(a2a + ["--topology", topo])["time_s"] >= flat * (1 - 1e-12)


def test_table_output() -> None:
    """Without --json a small table is printed."""
    result = runner.invoke(app, BASE)
    assert result.exit_code == 0
    assert "busbw" in result.output and "nvls / Simple" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--bytes", "0"], "positive"),
        (["--bytes", "-5"], "size"),
        (["--bytes", "lots"], "size"),
        (["--gpus", "0"], "--gpus"),
        (["--gpus", "-8"], "--gpus"),
        (["--gpus-per-node", "0"], "--gpus-per-node"),
        (["--op", "all-sum"], "unknown --op"),
        (["--algorithm", "butterfly"], "unknown --algorithm"),
        (["--accelerator", "h101"], "unknown accelerator"),
        (["--accelerator", "a100-80gb", "--algorithm", "nvls"], "NVLS"),
        (["--topology", "hypercube"], "topology"),
        (["--oversubscription", "0.5"], "oversubscription"),
        (["--op", "all-gather", "--algorithm", "tree"], "tree"),
    ],
)
def test_bad_input_is_one_line_error(args: list[str], message: str) -> None:
    """Bad input gives exit code 1 and a one-line error naming the problem."""
    base = dict(zip(BASE[1::2], BASE[2::2]))
    for k, v in zip(args[::2], args[1::2]):
        base[k] = v
    result = runner.invoke(app, ["collective", *[x for kv in base.items() for x in kv], "--json"])
    assert result.exit_code == 1, result.output
    err = result.stderr.strip()
    assert err.startswith("error:") and message in err
    assert len(err.splitlines()) == 1
    assert result.stdout == ""

"""`wanka fabric` CLI: the JSON contract, compare, graph export and the one-line error path."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from wanka.cli.main import app

runner = CliRunner()


def _run(*args: object) -> tuple[int, str, str]:
    r = runner.invoke(app, ["fabric", *map(str, args)])
    return r.exit_code, r.stdout, r.stderr if r.stderr_bytes is not None else ""


def test_design_json_contract() -> None:
    """design --json prints the contract keys; switches_per_tier is a list, leaf first."""
    code, out, _ = _run(
        "design",
        "--topology",
        "fat-tree",
        "--endpoints",
        2048,
        "--radix",
        64,
        "--tiers",
        2,
        "--json",
    )
    assert code == 0
    d = json.loads(out)
    for key in (
        "topology",
        "endpoints",
        "switches",
        "switches_per_tier",
        "links",
        "links_per_tier",
        "transceivers",
        "cost_usd",
        "cost_breakdown",
        "power_w",
        "bisection_gb_s",
        "diameter_hops",
    ):
        assert key in d
    assert d["switches"] == 96 and d["switches_per_tier"] == [64, 32]
    assert d["bisection_gb_s"] == pytest.approx(1024 * 50.0)


def test_design_table_and_options() -> None:
    """The human table prints; oversubscription lists, dims and scale-up options are accepted."""
    code, out, _ = _run(
        "design", "--topology", "rail-optimized", "--endpoints", 1024, "--accelerator", "h100-sxm"
    )
    assert code == 0 and "cost per accelerator" in out and "scaleup" in out
    code, out, _ = _run(
        "design",
        "--topology",
        "fat-tree",
        "--endpoints",
        20000,
        "--oversubscription",
        "1,2",
        "--json",
    )
    assert code == 0 and json.loads(out)["oversubscription"] == [1.0, 2.0]
    code, out, _ = _run(
        "design", "--topology", "torus", "--endpoints", 4096, "--dims", "16x16x16", "--json"
    )
    assert code == 0 and json.loads(out)["ocs"] == 48
    code, out, _ = _run(
        "design", "--topology", "fat-tree", "--endpoints", 64, "--scaleup", "nvl72", "--json"
    )
    assert code == 0 and json.loads(out)["cost_breakdown"]["scaleup_switches"] > 0


def test_compare_json_fast_and_complete() -> None:
    """compare at 10,240 H100s: every topology, full mesh beside fat-tree and rail-only.

    Its speed (< 5 s) is measured by benchmarks/bench_fabric.py, not asserted here (CI machines vary)."""
    code, out, _ = _run("compare", "--endpoints", 10240, "--accelerator", "h100-sxm", "--json")
    assert code == 0
    designs = {d["topology"]: d for d in json.loads(out)["designs"]}
    assert {"full-mesh", "fat-tree", "rail-only"} <= set(designs)
    assert designs["full-mesh"]["links"] == 10240 * 10239 // 2
    for d in designs.values():
        assert d["allreduce_s"] > 0 and d["alltoall_s"] > 0 and d["fabric_cost_per_accelerator"] > 0
    code, out, _ = _run("compare", "--endpoints", 4096)
    assert code == 0 and "rail-only" in out


def test_graph_export(tmp_path) -> None:
    """graph writes GraphML and a PNG and reports that graph and closed form agree."""
    gml, png = tmp_path / "fabric.graphml", tmp_path / "fabric.png"
    code, out, _ = _run(
        "graph",
        "--topology",
        "fat-tree",
        "--endpoints",
        64,
        "--radix",
        8,
        "--out",
        gml,
        "--draw",
        png,
        "--json",
    )
    assert code == 0, out
    rec = json.loads(out)
    assert rec["match"] is True and rec["graph"]["switches"] == 40
    assert gml.exists() and png.stat().st_size > 1000


def test_spread_option() -> None:
    """--spread fewest|even picks the Clos top-tier rule; the default is per topology (fat-tree: fewest)."""
    base = (
        "design",
        "--topology",
        "fat-tree",
        "--endpoints",
        10240,
        "--radix",
        64,
        "--tiers",
        3,
        "--json",
    )
    code, out, _ = _run(*base)
    assert code == 0 and json.loads(out)["switches_per_tier"] == [320, 320, 160]
    assert json.loads(out)["spread"] == "fewest"
    code, out, _ = _run(*base, "--spread", "even")
    assert code == 0 and json.loads(out)["switches"] == 896
    code, out, _ = _run(
        "design", "--topology", "fat-tree", "--endpoints", 10000, "--radix", 144, "--tiers", 2
    )
    assert code == 0 and "139 + 70 = 209" in out and "fewest rule" in out
    code, out, _ = _run("design", "--topology", "rail-optimized", "--endpoints", 760, "--json")
    assert code == 0 and json.loads(out)["switches_per_tier"] == [24, 16]
    code, out, _ = _run(
        "graph",
        "--topology",
        "fat-tree",
        "--endpoints",
        39,
        "--radix",
        10,
        "--oversubscription",
        3,
        "--spread",
        "fewest",
        "--json",
    )
    assert code == 0 and json.loads(out)["match"] is True
    code, out, _ = _run("compare", "--endpoints", 4096, "--spread", "even", "--json")
    assert code == 0
    designs = {d["topology"]: d for d in json.loads(out)["designs"]}
    assert designs["fat-tree"]["spread"] == "even" and designs["torus"]["spread"] is None


@pytest.mark.parametrize(
    "args",
    [
        ("design", "--topology", "fat-tree", "--endpoints", 64, "--radix", 7),  # odd radix
        (
            "design",
            "--topology",
            "fat-tree",
            "--endpoints",
            70000,
            "--tiers",
            3,
        ),  # over the maximum
        ("design", "--topology", "fat-tree", "--endpoints", 0),  # zero size
        ("design", "--topology", "fat-tree", "--endpoints", -8),  # negative size
        ("design", "--topology", "butterfly", "--endpoints", 8),  # unknown topology
        ("design", "--topology", "fat-tree", "--endpoints", 8, "--oversubscription", "x"),
        ("design", "--topology", "fat-tree", "--endpoints", 8, "--accelerator", "h1000"),
        ("compare", "--endpoints", 0),
        ("graph", "--topology", "fat-tree", "--endpoints", 100000),
        (
            "design",
            "--topology",
            "fat-tree",
            "--endpoints",
            64,
            "--spread",
            "uneven",
        ),  # unknown spread
    ],
)
def test_bad_input_is_one_line_exit_1(args: tuple) -> None:
    """Bad input: exit code 1 and a single error line, no traceback."""
    r = runner.invoke(app, ["fabric", *map(str, args)])
    assert r.exit_code == 1
    text = (r.stderr or "") + r.stdout
    assert "error:" in text and "Traceback" not in text
    assert len([line for line in text.strip().splitlines() if line.strip()]) == 1

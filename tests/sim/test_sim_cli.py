"""`wanka simulate` end to end: JSON contract, errors, compare, plots, Ray."""

from __future__ import annotations

import importlib.util
import json

import pytest
from typer.testing import CliRunner

from wanka.cli.main import app

runner = CliRunner()
CONTRACT = {
    "jobs",
    "completed",
    "rejected",
    "avg_jct_s",
    "median_jct_s",
    "p99_jct_s",
    "avg_queue_s",
    "makespan_s",
    "utilization",
    "wall_s",
}


def test_json_contract(fixtures):
    r = runner.invoke(
        app,
        [
            "simulate",
            "--trace",
            str(fixtures / "itp_small.csv"),
            "--gpus",
            "8",
            "--gpus-per-node",
            "4",
            "--policy",
            "fifo",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert CONTRACT <= set(out)
    assert out["jobs"] == 3 and out["completed"] == 3 and out["bad_rows"] == 3


def test_too_large_job_reported(fixtures):
    r = runner.invoke(
        app,
        [
            "simulate",
            "--trace",
            str(fixtures / "itp_small.csv"),
            "--gpus",
            "4",
            "--gpus-per-node",
            "4",
            "--json",
        ],
    )
    out = json.loads(r.stdout)
    assert out["rejected"] == 1 and out["rejected_reasons"] == {"larger than the cluster": 1}
    assert out["completed"] + out["rejected"] == out["jobs"]


@pytest.mark.parametrize(
    "args, msg",
    [
        (["--policy", "nope"], "unknown policy"),  # unknown policy
        (["--placement", "random"], "unknown placement"),  # unknown placement
        (["--trace-format", "xyz"], "unknown trace format"),  # unknown format
    ],
)
def test_bad_options_one_line_exit_1(fixtures, args, msg):
    r = runner.invoke(
        app, ["simulate", "--trace", str(fixtures / "itp_small.csv"), "--gpus", "8", *args]
    )
    assert r.exit_code == 1
    assert msg in r.output and len(r.output.strip().splitlines()) == 1


def test_malformed_trace_exit_1(fixtures):
    r = runner.invoke(app, ["simulate", "--trace", str(fixtures / "bad_header.csv"), "--gpus", "8"])
    assert r.exit_code == 1 and "unrecognised header" in r.output


def test_compare_and_plots(fixtures, tmp_path):
    r = runner.invoke(
        app,
        [
            "simulate",
            "compare",
            "--policies",
            "fifo,tiresias",
            "--placement",
            "packed,first-fit",
            "--trace",
            "builtin:tiresias/60_job.csv",
            "--gpus",
            "16",
            "--gpus-per-node",
            "4",
            "--json",
            "--plots",
            str(tmp_path),
        ],
    )
    assert r.exit_code == 0, r.output
    runs = json.loads(r.stdout)["runs"]
    assert [(x["policy"], x["placement"]) for x in runs] == [
        ("fifo", "packed"),
        ("fifo", "first-fit"),
        ("tiresias", "packed"),
        ("tiresias", "first-fit"),
    ]
    assert (tmp_path / "jct_cdf.png").stat().st_size > 1000
    assert (tmp_path / "utilization_queue.png").exists()


def test_rich_summary(fixtures):
    r = runner.invoke(
        app,
        [
            "simulate",
            "--trace",
            "builtin:tiresias/60_job.csv",
            "--gpus",
            "16",
            "--gpus-per-node",
            "4",
            "--policy",
            "tiresias",
        ],
    )
    assert r.exit_code == 0 and "JCT avg" in r.output


def test_cluster_yaml(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(
        "node_groups:\n  - {accelerator: v100, nodes: 2, gpus_per_node: 8}\n"
        "network: {nodes_per_leaf: 1}\ntenants: {a: {quota: 8}}\n"
    )
    r = runner.invoke(
        app,
        [
            "simulate",
            "--trace",
            "builtin:tiresias/60_job.csv",
            "--cluster",
            str(p),
            "--policy",
            "quota",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["accelerators"] == 16
    p.write_text("node_groups: []\nbogus: 1\n")
    r = runner.invoke(
        app, ["simulate", "--trace", "builtin:tiresias/60_job.csv", "--cluster", str(p)]
    )
    assert r.exit_code == 1 and "unknown key" in r.output


def test_seed_sweep(fixtures):
    r = runner.invoke(
        app,
        [
            "simulate",
            "--trace",
            "synthetic:300",
            "--gpus",
            "128",
            "--seeds",
            "2",
            "--node-mtbf-h",
            "200",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert [s["seed"] for s in out["seeds"]] == [0, 1]


HAVE_RAY = importlib.util.find_spec("ray") is not None


@pytest.mark.skipif(HAVE_RAY, reason="Ray installed: the missing-Ray message cannot be checked")
def test_ray_missing_clear_error():
    r = runner.invoke(
        app,
        [
            "simulate",
            "compare",
            "--policies",
            "fifo,sjf",
            "--trace",
            "builtin:tiresias/60_job.csv",
            "--gpus",
            "16",
            "--ray",
        ],
    )
    assert r.exit_code == 1 and "Ray" in r.output and len(r.output.strip().splitlines()) == 1


@pytest.mark.skipif(not HAVE_RAY, reason="Ray not installed")
def test_ray_compare():
    r = runner.invoke(
        app,
        [
            "simulate",
            "compare",
            "--policies",
            "fifo,sjf",
            "--trace",
            "builtin:tiresias/60_job.csv",
            "--gpus",
            "16",
            "--ray",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.stdout)["runs"]) == 2


def test_ray_missing_message_when_import_fails(monkeypatch):
    """With Ray unimportable, --ray is a one-line error naming the extra (checked even where Ray exists)."""
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)
    r = runner.invoke(
        app,
        [
            "simulate",
            "compare",
            "--policies",
            "fifo,sjf",
            "--trace",
            "builtin:tiresias/60_job.csv",
            "--gpus",
            "16",
            "--ray",
        ],
    )
    assert r.exit_code == 1 and "wanka[ray]" in r.output


@pytest.mark.skipif(not HAVE_RAY, reason="Ray not installed")
def test_ray_bad_trace_is_one_line(fixtures):
    """A malformed trace under --ray gives the same one-line error as a local run, not a task traceback."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    try:
        r = runner.invoke(
            app,
            [
                "simulate",
                "compare",
                "--policies",
                "fifo,sjf",
                "--trace",
                str(fixtures / "bad_header.csv"),
                "--gpus",
                "16",
                "--ray",
            ],
        )
    finally:
        ray.shutdown()
    assert r.exit_code == 1 and "unrecognised header" in r.output
    assert "Traceback" not in r.output

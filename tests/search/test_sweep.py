"""Sweeps: parsing, local processes, CSV/Parquet output, and the Ray path when Ray is installed."""

from __future__ import annotations

import csv
import importlib.util

import pytest

from wanka.errors import CatalogError, ConfigError
from wanka.search.sweep import RESULT_COLUMNS, parse_sweep, run_sweep, sweep_tasks, write_results

SMALL = {
    "name": "t",
    "models": ["llama2-7b"],
    "accelerators": ["h100-sxm", "a100-80gb"],
    "counts": [8, 16],
    "global_batch_size": 64,
    "seq_len": 1024,
    "precisions": ["bf16"],
    "top": 2,
}


def test_tasks_are_the_product():
    """One task per model x accelerator x count x network."""
    spec = parse_sweep({**SMALL, "networks": ["default", "fat-tree"]})
    assert len(sweep_tasks(spec)) == 1 * 2 * 2 * 2


@pytest.mark.parametrize(
    "bad, err",
    [
        ({"models": ["no-such-model"]}, CatalogError),  # unknown preset id
        ({"accelerators": ["h100-typo"]}, CatalogError),  # unknown accelerator id
        ({"counts": [0]}, ConfigError),  # non-positive count
        ({"networks": ["hypercube"]}, ConfigError),  # unknown topology
        ({"colour": "red"}, ConfigError),  # unknown key
        ({"global_batch_size": None}, ConfigError),  # missing batch
    ],
)
def test_bad_sweeps(bad, err):
    with pytest.raises(err):
        parse_sweep({**SMALL, **bad})


def test_local_sweep_writes_csv(tmp_path):
    """A local sweep returns top rows per task and writes them as CSV."""
    res = run_sweep(parse_sweep(SMALL), backend="local", workers=1)
    assert res["tasks"] == 4
    ok = [r for r in res["rows"] if r["status"] == "ok"]
    assert ok and all(r["tp"] * r["pp"] * r["cp"] * r["dp"] == r["count"] for r in ok)
    assert {r["rank"] for r in ok} <= {1, 2}
    p = write_results(res["rows"], tmp_path / "r.csv")
    rows = list(csv.DictReader(p.open()))
    assert len(rows) == len(res["rows"]) and list(rows[0]) == list(RESULT_COLUMNS)


def test_parquet_needs_pyarrow(tmp_path):
    rows = [{"model": "m", "count": 8}]
    if importlib.util.find_spec("pyarrow") is None:
        with pytest.raises(ConfigError):
            write_results(rows, tmp_path / "r.parquet")
    else:
        import pyarrow.parquet as pq

        write_results(rows, tmp_path / "r.parquet")
        assert pq.read_table(tmp_path / "r.parquet").num_rows == 1


@pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="ray not installed (optional extra)"
)
def test_ray_sweep_matches_local():
    """The Ray path (a local ray.init(num_cpus=2)) gives the same rows as local processes."""
    import ray

    spec = parse_sweep({**SMALL, "accelerators": ["h100-sxm"], "counts": [8], "top": 1})
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        got = run_sweep(spec, backend="ray")
    finally:
        ray.shutdown()
    want = run_sweep(spec, backend="local", workers=1)
    key = lambda r: (r["model"], r["count"], r["tp"], r["pp"], r["dp"], r["tokens_per_s_per_gpu"])
    assert [key(r) for r in got["rows"]] == [key(r) for r in want["rows"]]
    assert got["backend"] == "ray"

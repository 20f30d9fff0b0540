"""Trace readers: every format, bad rows counted, malformed files rejected, shipped copies."""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pytest

from wanka.errors import ConfigError
from wanka.sim import synthetic_llm_trace
from wanka.sim.traces import list_builtin, pollux_job_work, read_trace


def test_itp_bad_rows_counted(fixtures):
    """Unreadable rows are skipped and counted by reason, never a crash."""
    tr = read_trace(fixtures / "itp_small.csv")
    assert tr.format == "itp"
    assert list(tr.jobs.name) == ["a", "b", "e"]
    assert tr.bad_rows == 3
    assert tr.bad_reasons == {
        "value not a number": 1,
        "duration not positive": 1,
        "accelerator count not a positive integer": 1,
    }


def test_gzip_and_directory_merge(fixtures, tmp_path):
    """.csv.gz reads the same; a directory merges its files, one tenant per file."""
    with open(fixtures / "itp_small.csv", "rb") as f, gzip.open(tmp_path / "c1.csv.gz", "wb") as g:
        shutil.copyfileobj(f, g)
    shutil.copy(fixtures / "wanka_small.csv", tmp_path / "c2.csv")
    tr = read_trace(tmp_path)
    assert len(tr.jobs) == 5 and tr.bad_rows == 3
    assert set(tr.jobs.tenants) == {"c1", "team-a", "team-b"}
    assert np.all(np.diff(tr.jobs.arrival_s) >= 0)


def test_malformed_header(fixtures):
    with pytest.raises(ConfigError, match="unrecognised header"):
        read_trace(fixtures / "bad_header.csv")


def test_missing_file():
    with pytest.raises(ConfigError, match="trace not found"):
        read_trace("/nonexistent/trace.csv")


def test_openb(fixtures):
    """openb: CPU pods skipped, fractional GPU = 1, gpu_spec kept, LS = inference."""
    tr = read_trace(fixtures / "openb_small.csv")
    j = tr.jobs
    assert tr.bad_reasons == {"requests no accelerator (CPU pod)": 1, "value not a number": 1}
    assert j.size.tolist() == [1, 2]
    assert j.work_s.tolist() == [100.0, 98.0]
    assert j.accel_types[j.accel_type[1]] == "V100M16|V100M32"
    assert j.kind.tolist() == [1, 0]


def test_philly(fixtures):
    tr = read_trace(fixtures / "philly_small.csv")
    assert tr.bad_rows == 1
    assert tr.jobs.arrival_s.tolist() == [0.0, 60.0]
    assert tr.jobs.tenants[tr.jobs.tenant[0]] == "vc2"


def test_pollux(fixtures):
    """Pollux workloads: work from the shipped model profiles; unknown application counted."""
    tr = read_trace(fixtures / "pollux_small.csv")
    assert tr.bad_reasons == {"unknown application": 1}
    assert tr.jobs.size.tolist() == [6, 1]
    assert tr.jobs.work_s[0] > 300 and tr.jobs.work_s[1] > 10  # cifar10 6x2048, ncf 1x32768
    w, step, grad = pollux_job_work("cifar10", 6, 2048)
    assert w > 0 and 0 < step < 1 and grad == pytest.approx(4 * 11.7e6)


def test_tiresias_and_elasticflow_builtin():
    t = read_trace("builtin:tiresias/60_job.csv")
    assert t.format == "tiresias" and len(t.jobs) == 60 and t.bad_rows == 0
    e = read_trace("builtin:microsoft-itp-elasticflow/elasticflow/195job")
    assert e.format == "elasticflow" and len(e.jobs) == 195 and len(e.jobs.models) > 1


def test_shipped_traces_cover_every_format():
    names = list_builtin()
    for want in (
        "microsoft-itp-elasticflow/raw",
        "philly-pollux/philly.csv.gz",
        "philly-pollux/workloads",
        "alibaba-gpu-2023-openb/openb_pod_list_default.csv.gz",
        "tiresias/60_job.csv",
    ):
        assert want in names


def test_shipped_itp_is_complete():
    """The shipped ITP raw copy holds all 69,351 jobs."""
    tr = read_trace("builtin:microsoft-itp-elasticflow/raw")
    assert len(tr.jobs) == 69351 and tr.bad_rows == 0
    assert len(tr.jobs.tenants) == 10


def test_synthetic_mix():
    """The generator gives thousands-of-accelerator jobs, tenants and all three kinds."""
    tr = synthetic_llm_trace(jobs=20000, accelerators=10240, seed=0)
    j = tr.jobs
    assert j.size.max() >= 2048 and j.size.min() == 1
    assert len(set(j.tenant.tolist())) == 8
    assert set(j.kind.tolist()) == {0, 1, 2}
    again = synthetic_llm_trace(jobs=20000, accelerators=10240, seed=0)
    np.testing.assert_array_equal(j.work_s, again.jobs.work_s)

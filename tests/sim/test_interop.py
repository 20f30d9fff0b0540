"""Traces in from Slurm accounting, per-job rows out of `simulate`."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from wanka.sim.traces import read_trace

SACCT = Path(__file__).parent / "data" / "sacct-sample.txt"


def test_sacct_reader_takes_allocations_with_gpus():
    """Steps, never-started and GPU-less jobs are skipped and counted; the rest keep Slurm's times."""
    tr = read_trace(SACCT)
    assert tr.format == "sacct"
    jobs = tr.jobs
    assert list(jobs.name) == ["101", "102"]
    assert list(jobs.size) == [8, 16]
    assert list(jobs.arrival_s) == [0.0, 1800.0]
    assert list(jobs.work_s) == [7200.0, 90000.0]
    assert [jobs.tenants[t] for t in jobs.tenant] == ["teama", "teamb"]
    assert tr.bad_reasons == {"never started": 1, "no GPU allocated": 1}


def test_simulate_jobs_csv_accounts_for_every_job(tmp_path):
    """--jobs-csv: one row per job, each done job's end after its start after its submission."""
    out = tmp_path / "jobs.csv"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "wanka.cli.main",
            "simulate",
            "--trace",
            str(SACCT),
            "--gpus",
            "16",
            "--policy",
            "fifo",
            "--jobs-csv",
            str(out),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(out.open()))
    assert [row["job"] for row in rows] == ["101", "102"]
    for row in rows:
        assert row["state"] == "done"
        assert float(row["submit_s"]) <= float(row["start_s"]) < float(row["end_s"])
        used = sum(int(p.split(":")[1]) for p in row["placement"].split("+"))
        assert used == int(row["accelerators"])
    # 102 needs all 16 accelerators: it waits for 101 (8 of them) to finish
    assert float(rows[1]["start_s"]) >= float(rows[0]["end_s"])


def test_ray_address_that_does_not_answer_is_one_line(tmp_path):
    """RAY_ADDRESS naming a closed loopback port: exit 1 with one line, fast, no traceback."""
    import os
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    env = dict(os.environ, RAY_ADDRESS=f"127.0.0.1:{port}")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "wanka.cli.main",
            "simulate",
            "--trace",
            str(SACCT),
            "--gpus",
            "16",
            "--seeds",
            "2",
            "--ray",
        ],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=60,
    )
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and "RAY_ADDRESS" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1

"""Ctrl-C (SIGINT) stops `sweep` and `simulate --ray` within seconds, stops their workers, keeps rows.

Each test starts the real `wanka` in its own process group, sends SIGINT once work is under way,
and then checks: exit 130, an `interrupted:` line, no traceback, the finished rows written, and
no process of the group left behind (Ray's raylet, agents and workers included).
"""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

SWEEP = """name: many
models: [llama3-8b, llama3-70b, qwen3-30b-a3b]
accelerators: [h100-sxm, a100-80gb, h200, b200, mi300x]
counts: [8, 16, 32, 64, 128, 256, 512, 1024]
networks: [default]
global_batch_size: 256
precisions: [bf16]
top: 1
"""
WANKA = [sys.executable, "-m", "wanka.cli.main"]


def _interrupt(argv: list[str], *, ready: str | None, after_s: float) -> tuple[int, str, float]:
    """Run, wait for `ready` on stderr (if given) plus `after_s`, SIGINT; (rc, stderr, stop time)."""
    p = subprocess.Popen(
        WANKA + argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # as from an interactive shell: a script's background job (e.g. `.ci/run &`) inherits SIGINT
        # ignored, and Python then never raises KeyboardInterrupt
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    err: list[str] = []
    seen = threading.Event()

    def pump() -> None:
        assert p.stderr is not None
        for line in p.stderr:
            err.append(line)
            if ready is None or ready in line:
                seen.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    if ready is None:
        seen.set()
    try:
        assert seen.wait(120), "work never started: " + "".join(err)
        time.sleep(after_s)
        assert p.poll() is None, "finished before the interrupt: " + "".join(err)
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        rc = p.wait(timeout=30)
        stop_s = time.monotonic() - t0
        reader.join(5)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    _assert_group_gone(p.pid)
    return rc, "".join(err), stop_s


def _assert_group_gone(pgid: int) -> None:
    """No live process (zombies aside) is left in the run's process group after a short grace."""
    deadline = time.monotonic() + 30  # Ray's agents take seconds to exit on a loaded machine
    while time.monotonic() < deadline:
        out = subprocess.run(
            ["ps", "-o", "stat=,pid=,args=", "-g", str(pgid)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.splitlines()
        if all(line.split()[0].startswith("Z") for line in out if line.strip()):
            return
        time.sleep(0.5)
    raise AssertionError(f"processes of the run still alive: {out}")


@pytest.mark.slow
def test_ctrl_c_stops_a_local_sweep_and_keeps_finished_rows(tmp_path: Path):
    spec = tmp_path / "many.yaml"
    spec.write_text(SWEEP)
    out = tmp_path / "rows.csv"
    rc, err, stop_s = _interrupt(
        ["sweep", str(spec), "--workers", "2", "--out", str(out)], ready=None, after_s=8
    )
    assert rc == 130 and "Traceback" not in err, err
    assert stop_s < 10
    m = re.search(r"interrupted: (\d+) of (\d+) searches finished", err)
    assert m, err
    finished, total = int(m.group(1)), int(m.group(2))
    assert 0 < finished < total == 120
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == finished and all(r["model"] and r["status"] for r in rows)


@pytest.mark.slow
def test_ctrl_c_stops_simulate_on_ray(tmp_path: Path):
    """simulate compare --ray: SIGINT once Ray is up; its workers and the local Ray are stopped."""
    argv = [
        "simulate",
        "compare",
        "--policies",
        "fifo,sjf,tiresias,fifo-backfill",
        "--trace",
        "synthetic:12000",  # ~15 CPU-s of work: still running at the SIGINT
        "--gpus",
        "64",
        "--ray",
    ]
    rc, err, stop_s = _interrupt(argv, ready="Started a local Ray instance", after_s=2)
    assert rc == 130 and "Traceback" not in err, err
    assert "interrupted:" in err
    assert stop_s < 15

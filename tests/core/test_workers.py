"""What a local Ray leaves behind after its shutdown is found and stopped (Linux /proc)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from wanka import workers

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc (Linux)")


def _orphan_maker() -> subprocess.Popen[str]:
    """A child that starts a sleeping grandchild, prints its pid and keeps running."""
    code = (
        "import subprocess, sys, time\n"
        "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(g.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


def test_descendants_include_grandchildren_and_reap_stops_them(monkeypatch):
    child = _orphan_maker()
    try:
        assert child.stdout is not None
        grandchild = int(child.stdout.readline())
        found = workers._descendants(os.getpid())
        assert {child.pid, grandchild} <= set(found)
        child.kill()  # the grandchild is now an orphan, as a Ray agent is after the raylet dies
        child.wait()
        monkeypatch.setattr(workers, "_REAP_GRACE_S", 0.3)
        t0 = time.monotonic()
        workers._reap({grandchild: found[grandchild]})
        assert time.monotonic() - t0 < 3
        deadline = time.monotonic() + 5
        while workers._alive(grandchild, found[grandchild]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not workers._alive(grandchild, found[grandchild])
    finally:
        child.kill()


def test_reap_leaves_a_reused_pid_alone():
    """A pid whose start time differs is another process: it is not killed."""
    me = os.getpid()
    workers._reap({me: "not-my-start-time"})
    assert workers._alive(me, workers._descendants(os.getppid())[me])

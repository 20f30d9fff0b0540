"""The embedded default engine: each job a `/bin/sh -c` subprocess on this host.

Every job gets a folder `<workdir>/wanka-<job id>/` created with `mkdir` (the atomic claim that
makes `submit` idempotent: a second dispatch of the same job finds the folder and never starts it
again), holding `pid`, `started`, the merged output `out.log` and, when the command ends, `rc`.
The jobs stay in the service's process group: a kill -9 of the group is a host crash, and the
reconciler then finds folders with neither a live pid nor an `rc` and reports those jobs lost.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from wanka.platform.executors.base import (
    TAG,
    EngineStatus,
    ExecutorUnavailable,
    JobSpec,
    register_executor,
)

__all__ = ["LocalExecutor"]

LOG_TAIL_BYTES = 64 * 1024


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _children(pid: int) -> list[int]:
    """Every descendant of `pid` (from /proc), deepest last."""
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


class LocalExecutor:
    kind = "local"

    def __init__(self, config: dict[str, Any], workdir: str) -> None:
        self.root = Path(config.get("workdir") or workdir)
        self.procs: dict[int, subprocess.Popen] = {}

    def health(self) -> tuple[bool, str]:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            return False, f"cannot create {self.root}: {e.strerror}"
        return True, "ok"

    def _dir(self, job_id: str) -> Path:
        return self.root / (TAG + job_id)

    def submit(self, job: JobSpec) -> str:
        d = self._dir(job.id)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            d.mkdir()
        except FileExistsError:
            return job.id  # already dispatched: never start it twice
        except OSError as e:
            raise ExecutorUnavailable(f"local executor: {e.strerror}: {d}") from None
        env = {**os.environ, **job.env, "WANKA_JOB_ID": job.id}
        env["WANKA_ACCELERATORS"] = str(job.accelerators)
        script = f"( {job.command}\n); echo $? > rc.tmp; mv rc.tmp rc"
        (d / "started").write_text(f"{time.time():.6f}\n")
        with open(d / "out.log", "wb") as out:
            p = subprocess.Popen(
                ["/bin/sh", "-c", script],
                cwd=d,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.procs[p.pid] = p
        (d / "pid").write_text(f"{p.pid}\n")
        return job.id

    def find(self, job_id: str) -> str | None:
        return job_id if self._dir(job_id).is_dir() else None

    def _pid(self, d: Path) -> int | None:
        try:
            return int((d / "pid").read_text())
        except (OSError, ValueError):
            return None

    def status(self, engine_id: str) -> EngineStatus:
        d = self._dir(engine_id)
        start = _read_float(d / "started")
        pid = self._pid(d)
        p = self.procs.get(pid) if pid else None
        if pid is not None and p is not None and p.poll() is not None:
            self.procs.pop(pid, None)
        rc = d / "rc"
        if rc.exists():
            try:
                code = int(rc.read_text())
            except ValueError:
                code = -1
            end = rc.stat().st_mtime
            if (d / "cancelled").exists():
                return EngineStatus(state="cancelled", start=start, end=end, exit_code=code)
            state = "succeeded" if code == 0 else "failed"
            return EngineStatus(state=state, start=start, end=end, exit_code=code)
        if pid and _alive(pid):
            return EngineStatus(state="running", start=start)
        if not d.is_dir():
            return EngineStatus(state="lost", detail="no job folder")
        if (d / "cancelled").exists():
            end = (d / "cancelled").stat().st_mtime
            return EngineStatus(state="cancelled", start=start, end=end)
        if pid is None and start is not None and time.time() - start < 5:
            return EngineStatus(state="pending", start=start)  # between mkdir and the pid file
        return EngineStatus(
            state="lost", start=start, detail="process ended without an exit status (host restart)"
        )

    def cancel(self, engine_id: str) -> None:
        d = self._dir(engine_id)
        pid = self._pid(d)
        if not d.is_dir():
            return
        (d / "cancelled").touch()
        if pid is None or not _alive(pid):
            return
        for q in [*reversed(_children(pid)), pid]:
            try:
                os.kill(q, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def list_owned(self) -> dict[str, str]:
        if not self.root.is_dir():
            return {}
        return {
            d.name[len(TAG) :]: d.name[len(TAG) :]
            for d in self.root.iterdir()
            if d.name.startswith(TAG) and d.is_dir()
        }

    def logs(self, engine_id: str) -> str:
        path = self._dir(engine_id) / "out.log"
        try:
            with open(path, "rb") as f:
                f.seek(max(0, path.stat().st_size - LOG_TAIL_BYTES))
                return f.read().decode(errors="replace")
        except OSError:
            return ""


def _read_float(path: Path) -> float | None:
    try:
        return float(path.read_text())
    except (OSError, ValueError):
        return None


register_executor("local", LocalExecutor)

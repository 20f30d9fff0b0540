"""Slurm engine: slurmrestd (JWT) by default, `sbatch`/`squeue`/`scancel` as the fallback.

Pool `executor_config`:
- REST mode: `url` (slurmrestd, e.g. http://127.0.0.1:6820), `jwt_key` (the HS256 key file named
  by slurm.conf `AuthAltParameters=jwt_key=...`: the service mints its own tokens, no `scontrol`),
  `users` (tenant name -> Unix user the tenant's jobs run as; default: the tenant name),
  `admin_user` (the user that reads and cancels for the platform; default root), `api` (default
  v0.0.38, Debian 12's Slurm 22.05).
- CLI mode: `mode: cli`; jobs run as the service's user.
- Both: `partition` (default: the cluster default), `workdir` (job cwd and output, default /tmp).

Jobs are named `wanka-<job id>` with comment `wanka:<job id>`, so `find` and `list_owned` recognise
them; Slurm keeps queued jobs across a slurmctld restart (StateSaveLocation).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from wanka.errors import ConfigError
from wanka.platform.executors.base import (
    TAG,
    EngineStatus,
    ExecutorUnavailable,
    JobSpec,
    register_executor,
)

__all__ = ["SlurmExecutor", "mint_jwt"]

_STATES = {
    "PENDING": "pending", "CONFIGURING": "pending", "REQUEUED": "pending", "SUSPENDED": "pending",
    "RUNNING": "running", "COMPLETING": "running", "COMPLETED": "succeeded",
    "FAILED": "failed", "TIMEOUT": "failed", "NODE_FAIL": "failed", "OUT_OF_MEMORY": "failed",
    "BOOT_FAIL": "failed", "DEADLINE": "failed", "PREEMPTED": "cancelled",
    "CANCELLED": "cancelled",
}  # fmt: skip


def _b64(b: bytes) -> bytes:
    return base64.urlsafe_b64encode(b).rstrip(b"=")


def mint_jwt(key: bytes, user: str, lifespan_s: int = 300) -> str:
    """An HS256 token Slurm's auth/jwt accepts: claims `sun` (user), `iat`, `exp` (slurm.schedmd.com/jwt.html)."""
    now = int(time.time())
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps({"sun": user, "iat": now, "exp": now + lifespan_s}).encode())
    sig = _b64(hmac.new(key, head + b"." + body, hashlib.sha256).digest())
    return (head + b"." + body + b"." + sig).decode()


def _exit(code: Any) -> int | None:
    """Slurm reports a wait(2) status: exit code in the high byte, a signal in the low bits."""
    if not isinstance(code, int):
        return None
    return (code >> 8) & 0xFF if code & 0x7F == 0 else 128 + (code & 0x7F)


class SlurmExecutor:
    kind = "slurm"

    def __init__(self, config: dict[str, Any], workdir: str) -> None:
        self.mode = config.get("mode", "rest")
        if self.mode not in ("rest", "cli"):
            raise ConfigError("slurm executor_config.mode must be rest or cli")
        self.url = str(config.get("url", "")).rstrip("/")
        if self.mode == "rest" and not self.url.startswith(("http://", "https://")):
            raise ConfigError("a slurm pool in rest mode needs executor_config.url (slurmrestd)")
        self.key_file = str(config.get("jwt_key") or "")
        if self.mode == "rest" and not self.key_file:
            raise ConfigError("a slurm pool in rest mode needs executor_config.jwt_key")
        self.users = {str(k): str(v) for k, v in (config.get("users") or {}).items()}
        self.admin_user = str(config.get("admin_user", "root"))
        self.api = str(config.get("api", "v0.0.38"))
        self.partition = config.get("partition")
        self.jobdir = str(config.get("workdir", "/tmp"))
        self.timeout_s = float(config.get("timeout_s", 10))

    # ---- REST plumbing ----------------------------------------------------------------------
    def _headers(self, user: str) -> dict[str, str]:
        try:
            key = Path(self.key_file).read_bytes()
        except OSError as e:
            raise ExecutorUnavailable(f"slurm jwt key: {e.strerror}: {self.key_file}") from None
        return {"X-SLURM-USER-NAME": user, "X-SLURM-USER-TOKEN": mint_jwt(key, user)}

    def _req(self, method: str, path: str, user: str, body: Any = None) -> Any:
        import httpx

        try:
            r = httpx.request(
                method, f"{self.url}/slurm/{self.api}{path}", json=body,
                headers=self._headers(user), timeout=self.timeout_s,
            )  # fmt: skip
        except httpx.HTTPError as e:
            raise ExecutorUnavailable(f"slurmrestd at {self.url}: {type(e).__name__}") from None
        try:
            data = r.json()
        except ValueError:
            data = {}
        errs = [e.get("error") or e.get("description") or "" for e in data.get("errors") or []]
        if r.status_code == 401:
            raise ExecutorUnavailable("slurmrestd refused the token (401)")
        return r.status_code, data, "; ".join(x for x in errs if x)

    def _cli(self, *args: str) -> str:
        try:
            p = subprocess.run(
                args, check=False, capture_output=True, text=True, timeout=self.timeout_s
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise ExecutorUnavailable(f"{args[0]}: {e}") from None
        if p.returncode != 0:
            msg = (p.stderr or p.stdout).strip()[:300]
            if "Unable to contact slurm controller" in msg or "Connection refused" in msg:
                raise ExecutorUnavailable(f"{args[0]}: {msg}")
            raise RuntimeError(f"{args[0]} failed: {msg}")
        return p.stdout

    # ---- protocol ---------------------------------------------------------------------------
    def health(self) -> tuple[bool, str]:
        try:
            if self.mode == "cli":
                return True, self._cli("scontrol", "ping").strip().splitlines()[0][:200]
            st, data, err = self._req("GET", "/ping", self.admin_user)
        except (ExecutorUnavailable, RuntimeError) as e:
            return False, str(e)
        pings = data.get("pings") or []
        if st != 200 or not pings or any(p.get("ping") != "UP" for p in pings):
            return False, f"slurmrestd ping: {st} {err or pings}"
        return True, f"slurm {data.get('meta', {}).get('Slurm', {}).get('release', '?')}"

    def _script(self, job: JobSpec) -> str:
        return f"#!/bin/bash\n{job.command}\n"

    def submit(self, job: JobSpec) -> str:
        if (eid := self.find(job.id)) is not None:
            return eid
        out = f"{self.jobdir}/{job.tag}.out"
        minutes = max(1, int((job.time_limit_s or 0) // 60)) if job.time_limit_s else None
        if self.mode == "cli":
            args = ["sbatch", "--parsable", f"--job-name={job.tag}", f"--comment=wanka:{job.id}",
                    f"--output={out}", f"--chdir={self.jobdir}", f"--wrap={job.command}"]  # fmt: skip
            if self.partition:
                args.append(f"--partition={self.partition}")
            if minutes:
                args.append(f"--time={minutes}")
            return self._cli(*args).strip().split(";")[0]
        desc: dict[str, Any] = {
            "name": job.tag, "comment": f"wanka:{job.id}", "current_working_directory": self.jobdir,
            "environment": {"PATH": "/usr/local/bin:/usr/bin:/bin", "WANKA_JOB_ID": job.id,
                            **job.env},
            "tasks": 1, "standard_output": out,
        }  # fmt: skip
        if self.partition:
            desc["partition"] = self.partition
        if minutes:
            desc["time_limit"] = minutes
        user = self.users.get(job.tenant_name, job.tenant_name)
        st, data, err = self._req(
            "POST", "/job/submit", user, {"job": desc, "script": self._script(job)}
        )
        if st != 200 or "job_id" not in data:
            if st >= 500 and not err:
                raise ExecutorUnavailable(f"slurmrestd submit answered {st}")
            raise RuntimeError(f"slurm refused the job: {err or st}")
        return str(data["job_id"])

    def _jobs(self) -> list[dict[str, Any]]:
        if self.mode == "cli":
            data = json.loads(self._cli("squeue", "--json", "--states=all"))
            return data.get("jobs") or []
        st, data, err = self._req("GET", "/jobs", self.admin_user)
        if st != 200:
            raise ExecutorUnavailable(f"slurmrestd jobs answered {st}: {err}")
        return data.get("jobs") or []

    def find(self, job_id: str) -> str | None:
        for j in self._jobs():
            if j.get("name") == TAG + job_id:
                return str(j["job_id"])
        return None

    def status(self, engine_id: str) -> EngineStatus:
        if self.mode == "cli":
            jobs = [j for j in self._jobs() if str(j.get("job_id")) == engine_id]
        else:
            st, data, err = self._req("GET", f"/job/{engine_id}", self.admin_user)
            if st != 200 and "Invalid job id" not in err:
                raise ExecutorUnavailable(f"slurmrestd job answered {st}: {err}")
            jobs = data.get("jobs") or []
        if not jobs:
            return EngineStatus(state="lost", detail=f"slurm has no job {engine_id}")
        j = jobs[0]
        raw = str(j.get("job_state", "PENDING")).split()[0]
        state = _STATES.get(raw, "pending")
        start, end = j.get("start_time") or None, j.get("end_time") or None
        done = state in ("succeeded", "failed", "cancelled")
        detail = f"slurm {raw}" if state == "failed" else ""
        return EngineStatus(
            state=state,
            start=float(start) if start and state != "pending" else None,
            end=float(end) if end and done else None,
            exit_code=_exit(j.get("exit_code")) if done else None,
            detail=detail,
        )

    def cancel(self, engine_id: str) -> None:
        self.cancel_as(self.admin_user, engine_id)

    def cancel_as(self, user: str, engine_id: str) -> None:
        """Cancel as `user` (Slurm itself refuses another user's job: 'Access/permission denied')."""
        if self.mode == "cli":
            self._cli("scancel", engine_id)
            return
        st, _data, err = self._req("DELETE", f"/job/{engine_id}", user)
        if st != 200:
            if "denied" in err.lower():
                raise PermissionError(f"slurm: {err}")
            raise RuntimeError(f"slurm cancel answered {st}: {err}")

    def list_owned(self) -> dict[str, str]:
        return {
            str(j["name"])[len(TAG) :]: str(j["job_id"])
            for j in self._jobs()
            if str(j.get("name", "")).startswith(TAG)
        }

    def logs(self, engine_id: str) -> str:
        for j in self._jobs():
            if str(j.get("job_id")) == engine_id:
                path = Path(self.jobdir) / f"{j.get('name')}.out"
                try:
                    return path.read_text(errors="replace")[-65536:]
                except OSError:
                    return ""
        return ""


register_executor("slurm", SlurmExecutor)

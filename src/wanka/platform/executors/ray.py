"""Ray engine through the Ray Jobs REST API (docs.ray.io, "Ray Jobs REST API"); needs only httpx.

Pool `executor_config`: `address` (the dashboard URL, e.g. http://127.0.0.1:8265), optional
`token` or `token_file` (Ray's token authentication, `Authorization: Bearer`), `num_cpus` per job
(default 0.1: the engine shares its CPUs; accelerators are counted by the platform's quota), and
`env` (extra environment variables). Each job is submitted with `submission_id = wanka-<job id>`:
Ray refuses a second submission with the same id, so a retried dispatch can never run a job twice.
"""

from __future__ import annotations

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

__all__ = ["RayExecutor"]

_STATES = {
    "PENDING": "pending",
    "RUNNING": "running",
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "STOPPED": "cancelled",
}


class RayExecutor:
    kind = "ray"

    def __init__(self, config: dict[str, Any], workdir: str) -> None:
        addr = config.get("address")
        if not isinstance(addr, str) or not addr.startswith(("http://", "https://")):
            raise ConfigError("a ray pool needs executor_config.address = the dashboard URL")
        self.address = addr.rstrip("/")
        self.num_cpus = float(config.get("num_cpus", 0.1))
        self.env = {str(k): str(v) for k, v in (config.get("env") or {}).items()}
        self._token = config.get("token")
        self._token_file = config.get("token_file")
        self.timeout_s = float(config.get("timeout_s", 10))

    def _headers(self) -> dict[str, str]:
        tok = self._token
        if not tok and self._token_file:
            try:
                tok = Path(self._token_file).read_text().strip()
            except OSError:
                tok = None
        return {"Authorization": f"Bearer {tok}"} if tok else {}

    def _req(self, method: str, path: str, body: Any = None) -> Any:
        import httpx

        try:
            r = httpx.request(
                method, self.address + path, json=body, headers=self._headers(),
                timeout=self.timeout_s,
            )  # fmt: skip
        except httpx.HTTPError as e:
            raise ExecutorUnavailable(f"ray at {self.address}: {type(e).__name__}: {e}") from None
        if r.status_code in (401, 403):
            raise ExecutorUnavailable(f"ray at {self.address}: {r.status_code} (token?)")
        return r

    def health(self) -> tuple[bool, str]:
        try:
            r = self._req("GET", "/api/version")
        except ExecutorUnavailable as e:
            return False, str(e)
        if r.status_code != 200:
            return False, f"ray /api/version answered {r.status_code}"
        return True, f"ray {r.json().get('ray_version', '?')}"

    def submit(self, job: JobSpec) -> str:
        body = {
            "entrypoint": job.command,
            "submission_id": job.tag,
            "metadata": {"wanka_job": job.id, "tenant": job.tenant, "name": job.name[:100]},
            "entrypoint_num_cpus": self.num_cpus,
            "runtime_env": {"env_vars": {**self.env, **job.env, "WANKA_JOB_ID": job.id}},
        }
        r = self._req("POST", "/api/jobs/", body)
        if r.status_code == 200:
            return r.json().get("submission_id", job.tag)
        if "already exists" in r.text:  # dispatched before a crash: never run it twice
            return job.tag
        if r.status_code >= 500:
            raise ExecutorUnavailable(f"ray refused the job ({r.status_code}): {r.text[:200]}")
        raise RuntimeError(f"ray refused the job ({r.status_code}): {r.text[:200]}")

    def find(self, job_id: str) -> str | None:
        r = self._req("GET", f"/api/jobs/{TAG}{job_id}")
        return TAG + job_id if r.status_code == 200 else None

    def status(self, engine_id: str) -> EngineStatus:
        r = self._req("GET", f"/api/jobs/{engine_id}")
        if r.status_code == 404:
            return EngineStatus(state="lost", detail="ray has no such job (cluster restarted?)")
        if r.status_code != 200:
            raise ExecutorUnavailable(f"ray status answered {r.status_code}")
        d = r.json()
        start, end = d.get("start_time"), d.get("end_time")
        state = _STATES.get(d.get("status", ""), "pending")
        return EngineStatus(
            state=state,
            start=start / 1000.0 if start else None,
            end=end / 1000.0 if end else None,
            exit_code=d.get("driver_exit_code"),
            detail=(d.get("message") or "")[:500] if state == "failed" else "",
        )

    def cancel(self, engine_id: str) -> None:
        r = self._req("POST", f"/api/jobs/{engine_id}/stop")
        if r.status_code >= 500:
            raise ExecutorUnavailable(f"ray stop answered {r.status_code}")

    def list_owned(self) -> dict[str, str]:
        r = self._req("GET", "/api/jobs/")
        if r.status_code != 200:
            raise ExecutorUnavailable(f"ray list answered {r.status_code}")
        out = {}
        for j in r.json():
            sid = j.get("submission_id") or ""
            if sid.startswith(TAG):
                out[sid[len(TAG) :]] = sid
        return out

    def logs(self, engine_id: str) -> str:
        r = self._req("GET", f"/api/jobs/{engine_id}/logs")
        return r.json().get("logs", "") if r.status_code == 200 else ""


register_executor("ray", RayExecutor)

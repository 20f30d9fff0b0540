"""Engine fixtures: the services .ci/run starts (Slurm + slurmrestd, a Ray head) and a real
`wanka platform serve` subprocess. Under CI (CI=true) a missing engine is a failure, not a skip."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest


def need_env(*names: str) -> dict[str, str]:
    missing = [n for n in names if not os.environ.get(n)]
    if missing:
        msg = f"engine not started: {', '.join(missing)} unset (.ci/platform-services.sh sets them)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return {n: os.environ[n] for n in names}


def slurm_config() -> dict:
    env = need_env("WANKA_TEST_SLURMRESTD_URL", "WANKA_TEST_SLURM_JWT_KEY")
    return {
        "url": env["WANKA_TEST_SLURMRESTD_URL"],
        "jwt_key": env["WANKA_TEST_SLURM_JWT_KEY"],
        "users": {"alpha": "tenanta", "beta": "tenantb"},
    }


def ray_config() -> dict:
    env = need_env("WANKA_TEST_RAY_ADDRESS")
    cfg = {"address": env["WANKA_TEST_RAY_ADDRESS"]}
    if os.environ.get("WANKA_TEST_RAY_TOKEN_FILE"):
        cfg["token_file"] = os.environ["WANKA_TEST_RAY_TOKEN_FILE"]
    return cfg


class Server:
    """`wanka platform serve` in its own process group on a free loopback port."""

    def __init__(self, url: str, tmp) -> None:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.url, self.tmp, self.proc = url, tmp, None
        self.base = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        exe = os.path.join(os.path.dirname(sys.executable), "wanka")
        self.proc = subprocess.Popen(
            [
                exe,
                "platform",
                "serve",
                "--db",
                self.url,
                "--port",
                str(self.port),
                "--workdir",
                str(self.tmp / "jobs"),
            ],
            stdout=open(self.tmp / "serve.log", "a"),  # noqa: SIM115 (lives with the process)
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for _ in range(300):
            try:
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(
            "serve did not come up: " + (self.tmp / "serve.log").read_text()[-500:]
        )

    def kill9(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.kill9()

    def call(self, method: str, path: str, token: str, body=None, headers=None):
        h = {"Authorization": f"Bearer {token}", **(headers or {})}
        r = httpx.request(method, self.base + "/api/v1" + path, json=body, headers=h, timeout=30)
        return r.status_code, r.json()

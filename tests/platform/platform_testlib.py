"""Helpers of the platform tests (a module with a unique name, importable from test files)."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient


class Api:
    """A TestClient with the admin token and helpers for the usual setup."""

    def __init__(self, client: TestClient, admin: str, url: str) -> None:
        self.c, self.admin, self.url = client, admin, url

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"Bearer {token}"
        r = self.c.request(method, "/api/v1" + path, json=body, headers=h)
        try:
            return r.status_code, r.json()
        except ValueError:
            return r.status_code, r.text

    def pool(self, name: str = "h100", accelerators: int = 4, **kw: Any) -> dict:
        body = {
            "name": name,
            "accelerator": "h100-sxm",
            "accelerators": accelerators,
            "executor": "local",
            **kw,
        }
        st, p = self.call("POST", "/pools", self.admin, body)
        assert st == 201, p
        return p

    def tenant(
        self,
        name: str,
        pool: str = "h100",
        accelerators: int = 2,
        borrow_limit: int = 0,
        weight: float = 1.0,
        lend_limit: int | None = None,
    ) -> tuple[str, str]:
        st, t = self.call("POST", "/tenants", self.admin, {"name": name, "weight": weight})
        assert st == 201, t
        st, k = self.call("POST", f"/tenants/{t['id']}/tokens", self.admin, {})
        assert st == 201, k
        q = {
            "pool": pool,
            "accelerators": accelerators,
            "borrow_limit": borrow_limit,
            "lend_limit": lend_limit,
        }
        st, _ = self.call("PUT", f"/tenants/{t['id']}/quotas", self.admin, q)
        assert st == 200
        return t["id"], k["token"]

    def submit(
        self, token: str, name: str, command: str = "true", key: str | None = None, **extra: Any
    ) -> tuple[int, dict]:
        body = {
            "name": name,
            "pool": extra.pop("pool", "h100"),
            "accelerators": extra.pop("accelerators", 1),
            "command": command,
            **extra,
        }
        return self.call("POST", "/jobs", token, body, {"Idempotency-Key": key or name})

    def job(self, token: str, job_id: str) -> dict:
        st, j = self.call("GET", f"/jobs/{job_id}", token)
        return j if st == 200 else {}

    def wait(self, token: str, job_id: str, states: tuple[str, ...], seconds: float = 20) -> str:
        state = None
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            state = self.job(token, job_id).get("state")
            if state in states:
                return state
            time.sleep(0.05)
        return state


def reset_pg(url: str) -> None:
    """Empty the PostgreSQL test database (a second pass of these tests runs on it in CI)."""
    from sqlalchemy import text

    from wanka.platform.store import make_engine

    eng = make_engine(url)
    with eng.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    eng.dispose()

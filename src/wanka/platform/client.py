"""A small HTTP client for the platform API (what the CLI uses)."""

from __future__ import annotations

import os
from typing import Any

from wanka.errors import ConfigError

__all__ = ["DEFAULT_URL", "Client"]

DEFAULT_URL = "http://127.0.0.1:8000"


class Client:
    def __init__(self, url: str | None = None, token: str | None = None, timeout_s: float = 30):
        self.url = (url or os.environ.get("WANKA_PLATFORM_URL") or DEFAULT_URL).rstrip("/")
        self.token = token or os.environ.get("WANKA_PLATFORM_TOKEN")
        self.timeout_s = timeout_s

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """The parsed JSON answer; a ConfigError with the service's `error` on a 4xx/5xx."""
        import httpx

        if not self.token:
            raise ConfigError("no token: pass --token or set WANKA_PLATFORM_TOKEN")
        h = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        try:
            r = httpx.request(
                method,
                f"{self.url}/api/v1{path}",
                json=body,
                headers=h,
                timeout=self.timeout_s,
                params={k: v for k, v in (params or {}).items() if v is not None},
            )
        except httpx.HTTPError as e:
            raise ConfigError(f"cannot reach the platform at {self.url}: {e}") from None
        try:
            data = r.json()
        except ValueError:
            data = None
        if r.status_code >= 400:
            msg = data.get("error") if isinstance(data, dict) else r.text[:200]
            raise ConfigError(f"{r.status_code}: {msg}")
        return data

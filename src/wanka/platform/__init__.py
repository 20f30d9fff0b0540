"""The pooled compute platform: tenants, quotas, admission by the performance model, jobs on
existing engines, metering and a dashboard.

Layers inside the package (lower never imports higher): models < auth < store < admission, gate,
staging, metering < executors < jobs, dispatcher < api < submit, whatif, routes_*, ui.
`create_app(url)` is the service; `init_store(url)` creates the schema and the first admin token.
"""

from __future__ import annotations

__all__ = ["create_app", "init_store"]


def __getattr__(name: str):  # lazy: importing wanka.platform must not pull in FastAPI
    if name == "create_app":
        from wanka.platform.api import create_app

        return create_app
    if name == "init_store":
        from wanka.platform.store import init_store

        return init_store
    raise AttributeError(name)

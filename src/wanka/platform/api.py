"""The FastAPI application: `/api/v1` (JSON), `/ui` (dashboard), `/healthz`, `/metrics`.

Every error leaves as `{"error": "<one line>"}` with a 4xx status; an unexpected exception is
logged and answered `{"error": "internal error"}` without a trace. Request bodies over 1 MiB are
refused with 413 before they are read in full.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from wanka.errors import WankaError
from wanka.platform.auth import Principal, resolve_token
from wanka.platform.store import Store, now

__all__ = ["MAX_BODY_BYTES", "Admin", "ApiError", "Caller", "create_app", "principal"]

log = logging.getLogger("wanka.platform")
MAX_BODY_BYTES = 1 << 20


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _err(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class BodyLimit:
    """ASGI middleware: 413 for a declared or streamed body over `limit` bytes."""

    def __init__(self, app: Any, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        try:
            declared = int(headers.get(b"content-length", b"0") or 0)
        except ValueError:
            declared = 0
        if declared > self.limit:
            return await _err(413, f"request body over {self.limit} bytes")(scope, receive, send)
        seen = 0

        async def limited() -> dict:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    raise ApiError(413, f"request body over {self.limit} bytes")
            return msg

        try:
            await self.app(scope, limited, send)
        except ApiError as e:
            await _err(e.status, e.message)(scope, receive, send)


def _validation_message(exc: RequestValidationError) -> tuple[int, str]:
    errs = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errs):
        return 400, "malformed JSON body"
    parts = []
    for e in errs[:3]:
        loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
        msg = str(e.get("msg", "invalid")).replace("\n", " ")
        if e.get("type") == "extra_forbidden":
            msg = "unknown field"
        parts.append(f"{loc or 'body'}: {msg}"[:200])
    return 422, "; ".join(parts) or "invalid request"


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(_r: Request, e: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if e.status == 401 else None
        return _err(e.status, e.message, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_r: Request, e: RequestValidationError) -> JSONResponse:
        return _err(*_validation_message(e))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_r: Request, e: StarletteHTTPException) -> JSONResponse:
        text = {404: "not found", 405: "method not allowed"}.get(e.status_code, str(e.detail))
        return _err(e.status_code, text)

    @app.exception_handler(WankaError)
    async def _wanka(_r: Request, e: WankaError) -> JSONResponse:
        return _err(422, str(e).splitlines()[0][:500] if str(e) else type(e).__name__)

    @app.exception_handler(Exception)
    async def _any(_r: Request, e: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return _err(500, "internal error")


def bearer(request: Request) -> str | None:
    h = request.headers.get("authorization", "")
    scheme, _, tok = h.partition(" ")
    if scheme.lower() == "bearer" and tok.strip():
        return tok.strip()
    return request.cookies.get("wanka_token")


def principal(request: Request) -> Principal:
    """The caller; 401 without a live token."""
    tok = bearer(request)
    if not tok:
        raise ApiError(401, "missing token: send Authorization: Bearer TOKEN")
    cache: TokenCache = request.app.state.tokens
    p = cache.get(tok)
    if p is None:
        store: Store = request.app.state.store
        with store.read() as s:
            p = resolve_token(s, tok, now())
        if p is None:
            raise ApiError(401, "invalid, revoked or expired token")
        cache.put(tok, p)
    return p


class TokenCache:
    """Resolved tokens for `ttl_s` seconds (revocation in this process clears it at once; another
    process sharing the database sees a revocation within `ttl_s`). Expiry is still checked."""

    def __init__(self, ttl_s: float = 2.0, size: int = 4096) -> None:
        self.ttl_s, self.size = ttl_s, size
        self._d: dict[str, tuple[float, Principal]] = {}

    def get(self, tok: str) -> Principal | None:
        hit = self._d.get(tok)
        if hit is None or time.monotonic() - hit[0] > self.ttl_s:
            return None
        p = hit[1]
        return None if p.expires_at is not None and p.expires_at <= now() else p

    def put(self, tok: str, p: Principal) -> None:
        if len(self._d) >= self.size:
            self._d.clear()
        self._d[tok] = (time.monotonic(), p)

    def clear(self) -> None:
        self._d.clear()


Caller = Annotated[Principal, Depends(principal)]
"""A route parameter that resolves the caller (401 without a live token)."""


def admin(p: Caller) -> Principal:
    if not p.is_admin:
        raise ApiError(403, "this needs an admin token")
    return p


Admin = Annotated[Principal, Depends(admin)]


def default_workdir(url: str) -> str:
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return str(Path(url[len("sqlite:///") :]).expanduser().resolve().parent / "jobs")
    return str(Path.home() / ".wanka" / "jobs")


def create_app(
    url: str,
    *,
    workdir: str | None = None,
    stager: Any = None,
    dispatcher: bool = True,
    interval_s: float = 0.25,
) -> FastAPI:
    """The service on the database at `url` (initialised by `wanka platform init`)."""
    from contextlib import asynccontextmanager

    from wanka.platform.datasets import data_stager
    from wanka.platform.datasets import router as datasets_router
    from wanka.platform.dispatcher import Dispatcher
    from wanka.platform.metrics import Metrics
    from wanka.platform.routes_admin import router as admin_router
    from wanka.platform.routes_jobs import router as jobs_router
    from wanka.platform.ui import LoginNeeded, login_needed_handler
    from wanka.platform.ui import router as ui_router

    store = Store(url)
    store.check()
    metrics = Metrics(store)
    if stager is None and not os.environ.get("WANKA_PLATFORM_STAGER"):
        stager = data_stager(store)  # datasets: [name@version] are staged by wanka.data
    disp = Dispatcher(
        store,
        workdir or default_workdir(url),
        stager=stager,
        metrics=metrics,
        interval_s=interval_s,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if dispatcher:
            disp.start()
        yield
        disp.stop()
        store.dispose()

    app = FastAPI(
        title="wanka platform",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.store, app.state.dispatcher, app.state.metrics = store, disp, metrics
    app.state.tokens = TokenCache()
    _install_errors(app)
    app.include_router(admin_router, prefix="/api/v1")
    app.include_router(jobs_router, prefix="/api/v1")
    app.include_router(datasets_router, prefix="/api/v1")
    app.include_router(ui_router)
    app.add_exception_handler(LoginNeeded, login_needed_handler)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics_route(_p: Admin) -> PlainTextResponse:
        body, ctype = metrics.render()
        return PlainTextResponse(body, media_type=ctype)

    app.add_middleware(BodyLimit)
    if os.environ.get("WANKA_PLATFORM_DEBUG"):
        logging.basicConfig(level=logging.INFO)
    return app

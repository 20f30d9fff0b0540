"""Admin routes: pools, rate cards, tenants, tokens, quotas, executors."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from wanka.platform.api import Admin, ApiError, Caller
from wanka.platform.auth import new_token
from wanka.platform.models import Pool, Quota, Rate, Tenant, Token
from wanka.platform.schemas import PoolIn, QuotaIn, RateIn, TenantIn, TokenIn
from wanka.platform.store import new_id, now

__all__ = ["pool_dict", "router"]

router = APIRouter()


def _store(request: Request) -> Any:
    return request.app.state.store


def pool_dict(p: Pool) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "accelerator": p.accelerator,
        "accelerators": p.accelerators,
        "tier": p.tier,
        "cohort": p.cohort,
        "executor": p.executor,
        "health": p.health,
        "health_reason": p.health_reason or None,
    }


@router.post("/pools", status_code=201)
def create_pool(body: PoolIn, request: Request, _p: Admin) -> dict:
    from wanka.platform.executors.base import get_executor

    get_executor(body.executor, body.executor_config, "/nonexistent")  # validates the config
    at = now()
    pool = Pool(
        id=new_id(),
        name=body.name,
        accelerator=body.accelerator,
        accelerators=body.accelerators,
        tier=body.tier,
        cohort=body.cohort or body.name,
        executor=body.executor,
        executor_config=body.executor_config,
        health="unknown",
        health_reason="",
        lock_seq=0,
        created_at=at,
    )
    try:
        with _store(request).write() as s:
            s.add(pool)
            s.flush()
            if body.price_per_accel_hour is not None:
                s.add(
                    Rate(
                        pool_id=pool.id,
                        tier=body.tier,
                        currency=body.currency,
                        price_per_accel_hour=body.price_per_accel_hour,
                        effective_from=0.0,
                    )
                )
    except IntegrityError:
        raise ApiError(409, f"a pool named {body.name!r} exists") from None
    request.app.state.dispatcher.wake.set()
    return pool_dict(pool)


@router.get("/pools")
def list_pools(request: Request, _p: Caller) -> list[dict]:
    with _store(request).read() as s:
        return [pool_dict(p) for p in s.scalars(select(Pool).order_by(Pool.name)).all()]


def _pool_by_name(s: Any, name: str) -> Pool:
    pool = s.scalar(select(Pool).where(Pool.name == name))
    if pool is None:
        names = s.scalars(select(Pool.name)).all()
        raise ApiError(422, f"unknown pool {name!r}; pools: {', '.join(sorted(names)) or 'none'}")
    return pool


@router.post("/pools/{name}/rates", status_code=201)
def add_rate(name: str, body: RateIn, request: Request, _p: Admin) -> dict:
    with _store(request).write() as s:
        pool = _pool_by_name(s, name)
        eff = now() if body.effective_from is None else body.effective_from
        s.add(
            Rate(
                pool_id=pool.id,
                tier=pool.tier,
                currency=body.currency,
                price_per_accel_hour=body.price_per_accel_hour,
                effective_from=eff,
            )
        )
    return {"pool": name, "price_per_accel_hour": body.price_per_accel_hour, "effective_from": eff}


@router.post("/tenants", status_code=201)
def create_tenant(body: TenantIn, request: Request, _p: Admin) -> dict:
    t = Tenant(
        id=new_id(),
        name=body.name,
        tier=body.tier,
        weight=body.weight,
        status="active",
        created_at=now(),
    )
    try:
        with _store(request).write() as s:
            s.add(t)
    except IntegrityError:
        raise ApiError(409, f"a tenant named {body.name!r} exists") from None
    return {"id": t.id, "name": t.name, "weight": t.weight, "tier": t.tier}


@router.get("/tenants")
def list_tenants(request: Request, _p: Admin) -> list[dict]:
    with _store(request).read() as s:
        rows = s.scalars(select(Tenant).order_by(Tenant.name)).all()
        return [
            {"id": t.id, "name": t.name, "weight": t.weight, "tier": t.tier, "status": t.status}
            for t in rows
        ]


def _tenant(s: Any, tenant_id: str) -> Tenant:
    t = s.get(Tenant, tenant_id) if len(tenant_id) <= 64 else None
    if t is None:
        raise ApiError(404, "no such tenant")
    return t


@router.post("/tenants/{tenant_id}/tokens", status_code=201)
def create_token(tenant_id: str, request: Request, _p: Admin, body: TokenIn | None = None) -> dict:
    at = now()
    with _store(request).write() as s:
        _tenant(s, tenant_id)
        plain, row = new_token(role="tenant", tenant_id=tenant_id, at=at, token_id=new_id())
        if body is not None and body.expires_in_s:
            row.expires_at = at + body.expires_in_s
        s.add(row)
    return {"id": row.id, "token": plain, "prefix": row.prefix, "expires_at": row.expires_at}


@router.delete("/tokens/{token_id}")
def revoke_token(token_id: str, request: Request, p: Caller) -> dict:
    with _store(request).write() as s:
        row = s.get(Token, token_id) if len(token_id) <= 64 else None
        if row is None or (not p.is_admin and row.tenant_id != p.tenant_id):
            raise ApiError(404, "no such token")
        if row.revoked_at is None:
            row.revoked_at = now()
    request.app.state.tokens.clear()
    return {"id": token_id, "revoked": True}


@router.put("/tenants/{tenant_id}/quotas")
def set_quota(tenant_id: str, body: QuotaIn, request: Request, _p: Admin) -> dict:
    with _store(request).write() as s:
        _tenant(s, tenant_id)
        pool = _pool_by_name(s, body.pool)
        q = s.get(Quota, (tenant_id, pool.id))
        if q is None:
            q = Quota(tenant_id=tenant_id, pool_id=pool.id, accelerators=0)
            s.add(q)
        q.accelerators, q.borrow_limit = body.accelerators, body.borrow_limit
        q.lend_limit, q.accel_hours_per_month = body.lend_limit, body.accel_hours_per_month
    request.app.state.dispatcher.wake.set()
    return {"tenant": tenant_id, **body.model_dump()}


@router.get("/executors")
def executors(request: Request, _p: Admin) -> list[dict]:
    orphans = request.app.state.dispatcher.orphans
    with _store(request).read() as s:
        pools = s.scalars(select(Pool).order_by(Pool.name)).all()
        return [
            {**pool_dict(p), "checked_at": p.checked_at, "orphans": orphans.get(p.name, [])}
            for p in pools
        ]

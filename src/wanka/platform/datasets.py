"""Datasets in the service: the dataset stager and the `/datasets`, `/transfers` routes.

The registry of `wanka.data` lives in the service's own database (its tables `data_*`, its own
Alembic history). A dataset's tenant there is the platform tenant's *name* (what `wanka data register
--tenant NAME` records); a tenant sees its own and public datasets, an admin sees all.

`data_stager(store)` is the stager `create_app` uses unless another is named: a job with
`datasets: [name@version]` and `storage: LOCATION` stays in `staging` until every dataset has a
verified replica at `LOCATION/NAME/VERSION`; missing ones are copied there in the background.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from wanka.data.staging import Stager
from wanka.platform.api import Caller
from wanka.platform.auth import Principal
from wanka.platform.models import Tenant
from wanka.platform.staging import StagingDecision, StagingRequest

__all__ = ["data_stager", "router"]

router = APIRouter()


def _tenant_name(store: Any, tenant_id: str | None) -> str | None:
    if tenant_id is None:
        return None
    with store.read() as s:
        t = s.get(Tenant, tenant_id)
        return t.name if t is not None else tenant_id


def data_stager(store: Any) -> Any:
    """A platform stager backed by the dataset registry in the service's database."""
    stager = Stager(store.url)

    def stage(req: StagingRequest) -> StagingDecision:
        ready, reason = stager.check(_tenant_name(store, req.tenant_id), req.datasets, req.storage)
        return StagingDecision(ready=ready, reason=reason)

    stage.stager = stager  # type: ignore[attr-defined]  # tests wait on its copies
    return stage


def _scope(request: Request, p: Principal) -> str | None:
    """The tenant name a caller's queries are filtered by (None: an admin, sees all)."""
    return None if p.is_admin else _tenant_name(request.app.state.store, p.tenant_id) or ""


def _registry(request: Request) -> Any:
    from wanka.data.registry import Registry

    reg = getattr(request.app.state, "data_registry", None)
    if reg is None:
        reg = request.app.state.data_registry = Registry(request.app.state.store.url)
    return reg


@router.get("/datasets")
def list_datasets(request: Request, p: Caller) -> list[dict[str, Any]]:
    """The dataset versions the caller may use: its own and public ones (an admin: all)."""
    recs = _registry(request).versions(tenant=_scope(request, p))
    return [{"ref": r.ref, **r.to_dict()} for r in recs]


@router.get("/transfers")
def list_transfers(
    request: Request, p: Caller, limit: int = Query(default=100, ge=1, le=1000)
) -> list[dict[str, Any]]:
    """The caller's dataset transfers, newest first (an admin: everyone's)."""
    return _registry(request).transfers(tenant=_scope(request, p), limit=limit)

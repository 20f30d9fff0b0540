"""API tokens: random secrets shown once, stored as SHA-256; the principal a token resolves to."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from wanka.platform.models import Tenant, Token

__all__ = ["Principal", "hash_token", "new_token", "resolve_token"]

TOKEN_PREFIX = "wk_"


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """Who is calling: an admin, or a tenant (every tenant query is filtered by `tenant_id`)."""

    role: str
    tenant_id: str | None
    token_id: str
    expires_at: float | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def hash_token(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


def new_token(*, role: str, tenant_id: str | None, at: float, token_id: str) -> tuple[str, Token]:
    """A fresh secret (32 random bytes) and the row that stores only its hash."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = Token(
        id=token_id,
        tenant_id=tenant_id,
        role=role,
        prefix=plain[:10],
        sha256=hash_token(plain),
        created_at=at,
    )
    return plain, row


def resolve_token(s: Session, plain: str, at: float) -> Principal | None:
    """The principal of a live token; None when unknown, revoked, expired or its tenant disabled."""
    if not plain or len(plain) > 256:
        return None
    row = s.scalar(select(Token).where(Token.sha256 == hash_token(plain)))
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= at:
        return None
    if row.tenant_id is not None:
        tenant = s.get(Tenant, row.tenant_id)
        if tenant is None or tenant.status != "active":
            return None
    return Principal(
        role=row.role, tenant_id=row.tenant_id, token_id=row.id, expires_at=row.expires_at
    )

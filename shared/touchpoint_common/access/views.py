"""Admin endpoints of every service: keys (list, create, rotate, revoke) and the audit log."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint_common.access.dependencies import OPEN_PATHS, require_scopes
from touchpoint_common.access.models import AuditEntryOut, KeyCreated, KeyIn, KeyOut, Scope
from touchpoint_common.access.service import (
    create_key,
    list_keys,
    query_audit,
    revoke_key,
    rotate_key,
)
from touchpoint_common.openapi import Rfc3339

router = APIRouter(
    prefix="/v1/admin", tags=["access"], dependencies=[Depends(require_scopes(Scope.ADMIN))]
)
KeyIdPath = Annotated[str, Path(max_length=64, pattern=r"^[0-9a-f]+$")]


async def _db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session per request; committed when the endpoint returns without error."""
    async with request.app.state.runtime.sessions() as session, session.begin():
        yield session


Session = Annotated[AsyncSession, Depends(_db_session)]


@router.get("/keys", response_model=list[KeyOut], summary="API keys (never their secrets)")
async def get_keys(db_session: Session, include_revoked: bool = False) -> list[KeyOut]:
    """Every live key, or every key with include_revoked."""
    return await list_keys(db_session=db_session, include_revoked=include_revoked)


@router.post("/keys", status_code=201, response_model=KeyCreated, summary="Create a key")
async def post_key(key: KeyIn, db_session: Session) -> KeyCreated:
    """A new key; its token is in this answer only."""
    return await create_key(db_session=db_session, key=key)


@router.post("/keys/{key_id}/rotate", response_model=KeyCreated, summary="Rotate a key")
async def post_rotate(key_id: KeyIdPath, db_session: Session) -> KeyCreated:
    """A new key with the same scopes; the old one is revoked (refused within the cache TTL)."""
    created = await rotate_key(db_session=db_session, key_id=key_id)
    if created is None:
        raise HTTPException(404, "no such live key")
    return created


@router.delete("/keys/{key_id}", status_code=204, summary="Revoke a key")
async def delete_key(key_id: KeyIdPath, db_session: Session) -> None:
    """Revoke; it is refused everywhere within the key cache TTL."""
    if not await revoke_key(db_session=db_session, key_id=key_id):
        raise HTTPException(404, "no such live key")


@router.get("/audit", response_model=list[AuditEntryOut], summary="Who read which customer")
async def get_audit(
    db_session: Session,
    customer_id: Annotated[str | None, Query(max_length=100)] = None,
    key_id: Annotated[str | None, Query(max_length=64)] = None,
    since: Rfc3339 | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntryOut]:
    """Audit entries, newest first."""
    return await query_audit(
        db_session=db_session, customer_id=customer_id, key_id=key_id, since=since, limit=limit
    )


def _is_guard(dependency: object) -> bool:
    return hasattr(getattr(dependency, "dependency", None), "required_scopes")


def unguarded_paths(routers: Sequence[APIRouter]) -> list[str]:
    """Routes of these routers outside OPEN_PATHS without a require_scopes guard."""
    found = []
    for router in routers:
        router_guarded = any(_is_guard(dependency) for dependency in router.dependencies)
        for route in router.routes:
            path = getattr(route, "path", repr(route))
            if path in OPEN_PATHS:
                continue
            if not isinstance(route, APIRoute):
                found.append(f"{router.prefix} {path} (not an APIRoute: cannot check)")
            elif not router_guarded and not any(_is_guard(d) for d in route.dependencies):
                found.append(f"{sorted(route.methods or ())} {path}")
    return found

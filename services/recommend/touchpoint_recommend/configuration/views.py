"""Admin endpoints: see, reload and replace the recommend config without a restart.

A replaced config is stored in PostgreSQL as a new version with its author; every replica
puts it in force within its poll interval (recommend_config_poll_s).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request

from touchpoint_common.access.dependencies import require_scopes
from touchpoint_common.access.models import Scope
from touchpoint_common.app import get_field_error
from touchpoint_recommend.configuration.holder import ConfigHolder
from touchpoint_recommend.configuration.models import (
    ConfigDocument,
    ConfigReloaded,
    ConfigStatus,
    ConfigVersionInfo,
)
from touchpoint_recommend.configuration.service import list_config_versions
from touchpoint_recommend.domain.config import ConfigError

router = APIRouter(
    prefix="/v1/admin/config", tags=["admin"], dependencies=[Depends(require_scopes(Scope.ADMIN))]
)


def get_holder(request: Request) -> ConfigHolder:
    """The app's ConfigHolder."""
    holder: ConfigHolder = request.app.state.config_holder
    return holder


AUTHOR_HEADER = "X-Touchpoint-Author"
MAX_AUTHOR_LENGTH = 200


def get_author(request: Request) -> str:
    """Who changes the config: the caller's API key id, else the author header, else unknown."""
    key_id = getattr(getattr(request.state, "api_key", None), "key_id", None)
    if isinstance(key_id, str) and key_id:
        return key_id
    named = request.headers.get(AUTHOR_HEADER, "").strip()
    printable = "".join(char for char in named if char.isprintable())
    return f"header:{printable[:MAX_AUTHOR_LENGTH]}" if printable else "unknown"


def _rejected(holder: ConfigHolder, exc: ConfigError) -> HTTPException:
    """422 naming the problem (at `body`: the config as a whole), the old version kept."""
    return get_field_error(
        ["body"],
        f"config rejected: {exc}; version {holder.version} stays in force",
        "config_rejected",
    )


@router.get("", summary="The config in force")
async def get_config(request: Request) -> ConfigDocument:
    """Catalogue, segments, strategies and policy currently used for decisions."""
    holder = get_holder(request)
    return ConfigDocument(version=holder.version, config=holder.config.model_dump(mode="json"))


@router.get("/status", summary="Version and origin of the config in force")
async def get_config_status(request: Request) -> ConfigStatus:
    """Fingerprint, stored version and author, load time and the last rejected problem."""
    return get_holder(request).status()


@router.get("/versions", summary="Stored config versions, newest first")
async def get_config_versions(
    request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[ConfigVersionInfo]:
    """Version number, author, time and fingerprint of each stored config."""
    async with get_holder(request).sessions() as db_session:
        return await list_config_versions(db_session=db_session, limit=limit)


@router.post("/reload", summary="Put the newest stored config in force now")
async def reload_config(request: Request) -> ConfigReloaded:
    """Without waiting for the poll; 422 naming the problem when the stored config is invalid."""
    holder = get_holder(request)
    try:
        changed = await holder.reload()
    except ConfigError as exc:
        raise _rejected(holder, exc) from exc
    return ConfigReloaded(changed=changed, status=holder.status())


@router.put(
    "",
    summary="Replace the whole config (validated, then stored as a new version)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/RecommendConfig"}}
            },
        }
    },
)
async def replace_config(request: Request, document: dict[str, Any] = Body(...)) -> ConfigReloaded:
    """Change catalogue, segments or strategies; 422 naming the problem when invalid. The new
    version records its author (the API key id) and reaches every replica by its poll."""
    holder = get_holder(request)
    try:
        changed = await holder.replace(document, author=get_author(request))
    except ConfigError as exc:
        raise _rejected(holder, exc) from exc
    return ConfigReloaded(changed=changed, status=holder.status())

"""Admin endpoints: see, reload and replace the recommend config without a restart."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request

from touchpoint_common.access.dependencies import require_scopes
from touchpoint_common.access.models import Scope
from touchpoint_recommend.configuration.holder import ConfigHolder
from touchpoint_recommend.configuration.models import ConfigDocument, ConfigReloaded, ConfigStatus
from touchpoint_recommend.domain.config import ConfigError

router = APIRouter(
    prefix="/v1/admin/config", tags=["admin"], dependencies=[Depends(require_scopes(Scope.ADMIN))]
)


def get_holder(request: Request) -> ConfigHolder:
    """The app's ConfigHolder."""
    holder: ConfigHolder = request.app.state.config_holder
    return holder


def _rejected(holder: ConfigHolder, exc: ConfigError) -> HTTPException:
    return HTTPException(
        status_code=422,
        detail=f"config rejected: {exc}; version {holder.version} stays in force",
    )


@router.get("", summary="The config in force")
async def get_config(request: Request) -> ConfigDocument:
    """Catalogue, segments, strategies and policy currently used for decisions."""
    holder = get_holder(request)
    return ConfigDocument(version=holder.version, config=holder.config.model_dump(mode="json"))


@router.get("/status", summary="Version and origin of the config in force")
async def get_config_status(request: Request) -> ConfigStatus:
    """Version, file, load time and the last rejected config's problem."""
    return get_holder(request).status()


@router.post("/reload", summary="Re-read the config file")
async def reload_config(request: Request) -> ConfigReloaded:
    """422 naming the problem when the file is invalid; the old config stays in force."""
    holder = get_holder(request)
    try:
        changed = holder.reload()
    except ConfigError as exc:
        raise _rejected(holder, exc) from exc
    return ConfigReloaded(changed=changed, status=holder.status())


@router.put("", summary="Replace the whole config (validated, then written to the file)")
async def replace_config(request: Request, document: dict[str, Any] = Body(...)) -> ConfigReloaded:
    """Change catalogue, segments or strategies; 422 naming the problem when invalid."""
    holder = get_holder(request)
    try:
        changed = holder.replace(document)
    except ConfigError as exc:
        raise _rejected(holder, exc) from exc
    return ConfigReloaded(changed=changed, status=holder.status())

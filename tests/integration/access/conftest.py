"""The three services in-process on the session's real servers, with no key preset."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest_asyncio
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from tests.integration.keys import create_token
from tests.integration.services import create_service_apps
from touchpoint_common.access.dependencies import AccessGate
from touchpoint_common.access.models import ALL_SCOPES, Scope
from touchpoint_common.access.settings import AccessSettings
from touchpoint_common.settings import CommonSettings

KEY_CACHE_TTL_S = 1.0
MakeToken = Callable[..., Awaitable[str]]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def services(
    settings: CommonSettings, tmp_path_factory: Any
) -> AsyncIterator[dict[str, FastAPI]]:
    """Ingest, profile and recommend started by their lifespans, key cache TTL one second."""
    apps = create_service_apps(settings, tmp_path_factory.mktemp("access"))
    for app in apps.values():
        app.state.access_gate = AccessGate(AccessSettings(key_cache_ttl_s=KEY_CACHE_TTL_S))
    async with (
        LifespanManager(apps["ingest"], startup_timeout=60, shutdown_timeout=30),
        LifespanManager(apps["profile"], startup_timeout=60, shutdown_timeout=30),
        LifespanManager(apps["recommend"], startup_timeout=60, shutdown_timeout=30),
    ):
        yield apps


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def make_token(settings: CommonSettings) -> MakeToken:
    """Creates keys on the session database: make_token(scopes, store_ids=..., ...)."""

    async def make(scopes: frozenset[Scope] | set[Scope] = ALL_SCOPES, **bindings: Any) -> str:
        return await create_token(settings.database_url, scopes, **bindings)

    return make


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def clients(services: dict[str, FastAPI]) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """One keyless client per service; each request passes its own headers."""
    opened = {
        name: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}")
        for name, app in services.items()
    }
    try:
        yield opened
    finally:
        for client in opened.values():
            await client.aclose()

"""The three services in-process on the session's real servers, with no key preset."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from tests.integration.keys import create_token
from touchpoint_common.access.dependencies import AccessGate
from touchpoint_common.access.models import ALL_SCOPES, Scope
from touchpoint_common.access.settings import AccessSettings
from touchpoint_common.settings import CommonSettings
from touchpoint_ingest.main import create_app as create_ingest_app
from touchpoint_ingest.settings import IngestSettings
from touchpoint_profile.main import create_app as create_profile_app
from touchpoint_profile.settings import ProfileSettings
from touchpoint_recommend.loader import DEFAULT_CONFIG_PATH
from touchpoint_recommend.main import create_app as create_recommend_app
from touchpoint_recommend.settings import RecommendSettings

KEY_CACHE_TTL_S = 1.0
MakeToken = Callable[..., Awaitable[str]]


def _fields(settings: CommonSettings, **overrides: Any) -> dict[str, Any]:
    fields = settings.model_dump()
    fields.update(overrides)
    return fields


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def services(
    settings: CommonSettings, tmp_path_factory: Any
) -> AsyncIterator[dict[str, FastAPI]]:
    """Ingest, profile and recommend started by their lifespans, key cache TTL one second."""
    config_path: Path = tmp_path_factory.mktemp("access") / "recommend.yaml"
    shutil.copyfile(DEFAULT_CONFIG_PATH, config_path)
    apps = {
        "ingest": create_ingest_app(IngestSettings(**_fields(settings, service_name="ingest"))),
        "profile": create_profile_app(
            ProfileSettings(
                **_fields(settings, service_name="profile", consumer_batch_timeout_ms=100)
            )
        ),
        "recommend": create_recommend_app(
            RecommendSettings(
                **_fields(
                    settings,
                    service_name="recommend",
                    recommend_config_path=config_path,
                    learner_batch_timeout_ms=100,
                )
            )
        ),
    }
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

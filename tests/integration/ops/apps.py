"""A service app with the ops router, served in-process for the ops integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from tests.integration.keys import all_scopes_headers
from touchpoint_common.app import create_service_app
from touchpoint_common.ops.settings import OpsSettings
from touchpoint_common.ops.views import get_lag_router
from touchpoint_common.runtime import Runtime
from touchpoint_common.settings import CommonSettings


def create_ops_app(settings: CommonSettings, ops: OpsSettings) -> FastAPI:
    """What every service mounts: health, metrics and the lag router, nothing else."""
    return create_service_app(
        title="ops test",
        description="the shared ops endpoints on real servers",
        runtime=Runtime(settings),
        routers=[get_lag_router(ops)],
    )


@asynccontextmanager
async def serve(app: FastAPI, *, with_key: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running, behind an in-process HTTP client (sending a key with
    every scope unless `with_key` is False: probes need none, and the database may be absent)."""
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        headers = await all_scopes_headers(app.state.runtime.settings) if with_key else {}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://ops", headers=headers
        ) as client:
            yield client

"""Each service's app starts on the real servers and answers its ops endpoints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from tests.conftest import report
from touchpoint_common.settings import CommonSettings
from touchpoint_ingest.main import create_app as create_ingest_app
from touchpoint_ingest.settings import IngestSettings
from touchpoint_profile.main import create_app as create_profile_app
from touchpoint_profile.settings import ProfileSettings
from touchpoint_recommend.main import create_app as create_recommend_app
from touchpoint_recommend.settings import RecommendSettings

pytestmark = pytest.mark.integration

SERVICES: dict[str, tuple[Callable[[Any], FastAPI], type[CommonSettings]]] = {
    "ingest": (create_ingest_app, IngestSettings),
    "profile": (create_profile_app, ProfileSettings),
    "recommend": (create_recommend_app, RecommendSettings),
}


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_service_ops_endpoints(service: str, settings: CommonSettings) -> None:
    """/healthz and /readyz answer 200 with database and kafka ok; /metrics is Prometheus
    text; /docs and /openapi.json are served."""
    create_app, settings_class = SERVICES[service]
    service_settings = settings_class(
        **settings.model_dump(exclude={"service_name", "port"}, exclude_unset=True)
    )
    app = create_app(service_settings)
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://test"
        ) as client,
    ):
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
        metrics = await client.get("/metrics")
        docs = await client.get("/docs")
        openapi = await client.get("/openapi.json")

    assert health.status_code == 200, health.text
    assert ready.status_code == 200, ready.text
    checks = ready.json()["checks"]
    assert checks["database"] == "ok"
    assert checks["kafka"] == "ok"
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "# TYPE" in metrics.text
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    assert openapi.status_code == 200
    assert openapi.json()["info"]["title"].lower().endswith(service)
    report(f"{service}: /healthz /readyz (database ok, kafka ok) /metrics /docs answered")

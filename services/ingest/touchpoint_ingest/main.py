"""The ingest service's ASGI app: `uvicorn touchpoint_ingest.main:app --port 8001`."""

from __future__ import annotations

from fastapi import FastAPI

from touchpoint_common.app import create_service_app
from touchpoint_common.ops.views import get_lag_router
from touchpoint_common.runtime import Runtime
from touchpoint_ingest.settings import IngestSettings


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    """Build the app; tests pass settings pointing at their own broker and database."""
    runtime = Runtime(settings or IngestSettings())
    return create_service_app(
        title="Touchpoint ingest",
        description="Ingest: every POS, call-centre and web touchpoint into Kafka.",
        runtime=runtime,
        routers=[get_lag_router()],
    )


app = create_app()

"""The recommend service's ASGI app: `uvicorn touchpoint_recommend.main:app --port 8003`."""

from __future__ import annotations

from fastapi import FastAPI

from touchpoint_common.app import create_service_app
from touchpoint_common.ops.views import get_lag_router
from touchpoint_common.runtime import Runtime
from touchpoint_recommend.settings import RecommendSettings


def create_app(settings: RecommendSettings | None = None) -> FastAPI:
    """Build the app; tests pass settings pointing at their own broker and database."""
    runtime = Runtime(settings or RecommendSettings())
    return create_service_app(
        title="Touchpoint recommend",
        description="Recommend: IDMR next-offer decisions that learn from responses.",
        runtime=runtime,
        routers=[get_lag_router()],
    )


app = create_app()

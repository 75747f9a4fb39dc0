"""The profile service's ASGI app: `uvicorn touchpoint_profile.main:app --port 8002`."""

from __future__ import annotations

from fastapi import FastAPI

from touchpoint_common.app import create_service_app
from touchpoint_common.ops.views import get_lag_router
from touchpoint_common.runtime import Runtime
from touchpoint_profile.settings import ProfileSettings


def create_app(settings: ProfileSettings | None = None) -> FastAPI:
    """Build the app; tests pass settings pointing at their own broker and database."""
    runtime = Runtime(settings or ProfileSettings())
    return create_service_app(
        title="Touchpoint profile",
        description="Profile: the live customer view, folded from recent events.",
        runtime=runtime,
        routers=[get_lag_router()],
    )


app = create_app()

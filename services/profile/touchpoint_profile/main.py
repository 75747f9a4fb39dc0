"""The profile service's ASGI app: `uvicorn touchpoint_profile.main:app --port 8002`."""

from __future__ import annotations

from fastapi import FastAPI

from touchpoint_common.app import create_service_app
from touchpoint_common.ops.views import get_lag_router
from touchpoint_common.runtime import Runtime
from touchpoint_profile.consumer.lifespan import start_consumer, stop_consumer
from touchpoint_profile.customers.views import router as customers_router
from touchpoint_profile.ranking.lifespan import start_rankings, stop_rankings
from touchpoint_profile.ranking.views import admin_router as rankings_router
from touchpoint_profile.ranking.views import figures_router
from touchpoint_profile.settings import ProfileSettings
from touchpoint_profile.worklist.views import router as worklist_router


async def on_startup(app: FastAPI) -> None:
    """Start the fold consumer and the ranking schedule."""
    await start_consumer(app)
    await start_rankings(app)


async def on_shutdown(app: FastAPI) -> None:
    """Stop the ranking schedule and the fold consumer."""
    await stop_rankings(app)
    await stop_consumer(app)


def create_app(settings: ProfileSettings | None = None) -> FastAPI:
    """Build the app; tests pass settings pointing at their own broker and database."""
    runtime = Runtime(settings or ProfileSettings())
    return create_service_app(
        title="Touchpoint profile",
        description="Profile: the live customer view, folded from recent events.",
        runtime=runtime,
        routers=[
            get_lag_router(),
            customers_router,
            rankings_router,
            figures_router,
            worklist_router,
        ],
        on_startup=on_startup,
        on_shutdown=on_shutdown,
    )


app = create_app()

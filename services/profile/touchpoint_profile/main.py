"""The profile service's ASGI app: `uvicorn touchpoint_profile.main:app --port 8002`."""

from __future__ import annotations

from fastapi import FastAPI

from touchpoint_common.app import create_service_app
from touchpoint_common.ops.views import get_lag_router
from touchpoint_common.runtime import Runtime
from touchpoint_profile.care.overdue import start_overdue_counter, stop_overdue_counter
from touchpoint_profile.console.views import mount_console
from touchpoint_profile.consumer.lifespan import start_consumer, stop_consumer
from touchpoint_profile.customers.views import router as customers_router
from touchpoint_profile.live.views import router as live_router
from touchpoint_profile.live.views import stop_live_feed
from touchpoint_profile.private.views import router as private_router
from touchpoint_profile.ranking.lifespan import start_rankings, stop_rankings
from touchpoint_profile.ranking.views import admin_router as rankings_router
from touchpoint_profile.ranking.views import figures_router
from touchpoint_profile.settings import ProfileSettings
from touchpoint_profile.worklist.views import router as worklist_router


async def start(app: FastAPI) -> None:
    """The fold consumer (when enabled), the overdue-complaints counter, the ranking schedule."""
    await start_consumer(app)
    start_overdue_counter(app)
    await start_rankings(app)


async def stop(app: FastAPI) -> None:
    """Stop what start started, and the live feed's reader if a feed was opened."""
    await stop_live_feed(app)
    await stop_rankings(app)
    await stop_overdue_counter(app)
    await stop_consumer(app)


def create_app(settings: ProfileSettings | None = None) -> FastAPI:
    """Build the app; tests pass settings pointing at their own broker and database."""
    configured = settings or ProfileSettings()
    runtime = Runtime(configured)
    app = create_service_app(
        title="Touchpoint profile",
        description="Profile: the live customer view, folded from recent events; the agent "
        "console at /console.",
        runtime=runtime,
        routers=[
            get_lag_router(),
            live_router,
            customers_router,
            private_router,
            rankings_router,
            figures_router,
            worklist_router,
        ],
        on_startup=start,
        on_shutdown=stop,
    )
    mount_console(app, configured)
    return app


app = create_app()

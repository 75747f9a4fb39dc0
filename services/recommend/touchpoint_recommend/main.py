"""The recommend service's ASGI app: `uvicorn touchpoint_recommend.main:app --port 8003`."""

from __future__ import annotations

import asyncio
import contextlib
import random

from fastapi import FastAPI

from touchpoint_common.app import create_service_app
from touchpoint_common.kafka.outbox import OutboxRelay
from touchpoint_common.ops.views import get_lag_router
from touchpoint_common.runtime import Runtime
from touchpoint_recommend.configuration.holder import ConfigHolder, watch_config
from touchpoint_recommend.configuration.views import router as config_router
from touchpoint_recommend.customers.profile_view import CustomerReader, ProfileCustomerReader
from touchpoint_recommend.decisions.service import DecisionDeps
from touchpoint_recommend.decisions.views import router as decisions_router
from touchpoint_recommend.domain.config import RecommendConfig
from touchpoint_recommend.figures.metrics import refresh_offer_figures
from touchpoint_recommend.figures.views import router as figures_router
from touchpoint_recommend.learner.consumer import Learner
from touchpoint_recommend.learner.views import router as learner_router
from touchpoint_recommend.settings import RecommendSettings


def create_app(
    settings: RecommendSettings | None = None, *, reader: CustomerReader | None = None
) -> FastAPI:
    """Build the app; tests pass settings pointing at their own broker and database."""
    settings = settings or RecommendSettings()
    runtime = Runtime(settings)
    tasks: list[asyncio.Task[None]] = []

    async def on_startup(app: FastAPI) -> None:
        holder = ConfigHolder(settings.recommend_config_path, runtime.sessions)
        await holder.start()
        app.state.config_holder = holder
        relay = OutboxRelay(
            runtime.sessions,
            runtime.get_publisher(),
            timeout_s=settings.recommend_produce_timeout_s,
            poll_s=settings.recommend_outbox_poll_s,
            scope=settings.recommend_outbox_scope,
        )
        tasks.append(asyncio.create_task(relay.run(), name="outbox-relay"))
        app.state.decision_deps = DecisionDeps(
            settings=settings,
            holder=holder,
            reader=reader or ProfileCustomerReader(rules=settings.profile_rules),
            relay=relay,
            rng=random.Random(settings.recommend_seed),
        )
        if settings.recommend_config_poll_s > 0:
            interval = settings.recommend_config_poll_s
            tasks.append(asyncio.create_task(watch_config(holder, interval_s=interval)))
        if settings.figures_refresh_s > 0:
            refresh = refresh_offer_figures(
                runtime.sessions,
                window_days=settings.figures_window_days,
                every_s=settings.figures_refresh_s,
            )
            tasks.append(asyncio.create_task(refresh, name="offer-figures"))
        app.state.learner = None
        if settings.learner_enabled:
            learner = Learner(settings, runtime.sessions, runtime.get_publisher())
            await learner.start()
            app.state.learner = learner
            tasks.append(asyncio.create_task(learner.run()))

    async def on_shutdown(app: FastAPI) -> None:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if app.state.learner is not None:
            await app.state.learner.stop()

    return create_service_app(
        title="Touchpoint recommend",
        description="Recommend: IDMR next-offer decisions that learn from responses.",
        runtime=runtime,
        routers=[
            decisions_router,
            config_router,
            learner_router,
            figures_router,
            get_lag_router(),
        ],
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        # PUT /v1/admin/config validates its body as a RecommendConfig by hand.
        openapi_models=[RecommendConfig],
    )


app = create_app()

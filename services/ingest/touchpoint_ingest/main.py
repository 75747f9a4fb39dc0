"""The ingest service's ASGI app: `uvicorn touchpoint_ingest.main:app --port 8001`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta

from fastapi import FastAPI

from touchpoint_common.app import create_service_app
from touchpoint_common.events.models import PAYLOAD_MODELS, EventIn
from touchpoint_common.identity.store import IdentityCache
from touchpoint_common.ops.views import get_lag_router
from touchpoint_common.runtime import Runtime
from touchpoint_common.tasks import stop_task
from touchpoint_ingest.events.admission import Admission
from touchpoint_ingest.events.coalesce import Coalescer
from touchpoint_ingest.events.context import IngestContext
from touchpoint_ingest.events.idempotency import purge_event_ids
from touchpoint_ingest.events.models import BatchIn
from touchpoint_ingest.events.outcomes import ItemOutcome
from touchpoint_ingest.events.owner import ClaimOwner
from touchpoint_ingest.events.service import ingest_events
from touchpoint_ingest.events.validation import Path, Rules, ValidEvent
from touchpoint_ingest.events.views import router as events_router
from touchpoint_ingest.settings import IngestSettings

logger = logging.getLogger(__name__)
PURGE_EVERY_S = 600.0


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    """Build the app; tests pass settings pointing at their own broker and database."""
    settings = settings or IngestSettings()
    runtime = Runtime(settings)

    async def start(app: FastAPI) -> None:
        owner = ClaimOwner(runtime.engine)
        await owner.start()
        app.state.ingest = IngestContext(
            owner=owner,
            settings=settings,
            sessions=runtime.sessions,
            publisher=runtime.get_publisher(),
            cache=IdentityCache(
                maxsize=settings.identity_cache_size, ttl_s=settings.identity_cache_ttl_s
            ),
            kek=settings.kek_ring(),
            rules=Rules(
                hmac_key=settings.identifier_hmac_key(),
                hmac_ring=settings.hmac_key_ring(),
                default_region=settings.default_phone_region,
                max_future_skew=timedelta(seconds=settings.max_future_skew_s),
            ),
        )
        context: IngestContext = app.state.ingest

        async def pipeline(
            events: Sequence[ValidEvent], paths: Sequence[Path]
        ) -> list[ItemOutcome]:
            """One accept pass over the merged requests' events."""
            return await ingest_events(context=context, events=events, paths=paths)

        app.state.coalescer = Coalescer(
            pipeline,
            workers=settings.accept_workers,
            max_events=settings.max_batch_events,
            max_queued_events=settings.max_queued_events,
        )
        app.state.admission = Admission(limit=settings.max_inflight_requests)
        app.state.purger = asyncio.create_task(_purge_forever(context))

    async def stop(app: FastAPI) -> None:
        await app.state.coalescer.close()
        await stop_task(app.state.purger)
        await app.state.ingest.owner.close()

    app = create_service_app(
        title="Touchpoint ingest",
        description="Ingest: every POS, call-centre and web touchpoint into Kafka.",
        runtime=runtime,
        routers=[events_router, get_lag_router()],
        on_startup=start,
        on_shutdown=stop,
        # The views parse bodies by hand: the event, the batch and each event type's payload
        # (validated against PurchasePayload, ...) are listed among the components.
        openapi_models=[EventIn, BatchIn, *PAYLOAD_MODELS.values()],
    )
    return app


async def _purge_forever(context: IngestContext) -> None:
    """Forget event ids older than the idempotency window, every few minutes."""
    while True:
        try:
            async with context.sessions() as session, session.begin():
                purged = await purge_event_ids(
                    db_session=session, older_than_h=context.settings.idempotency_window_h
                )
            if purged:
                logger.info("event ids purged", extra={"count": purged})
        except Exception as exc:  # the next round tries again; ingest keeps working
            logger.warning("event id purge failed", extra={"error": type(exc).__name__})
        await asyncio.sleep(PURGE_EVERY_S)


app = create_app()

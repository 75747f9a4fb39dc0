"""GET /v1/customers/{id}/live: the customer's new interactions as server-sent events."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import StreamingResponse

from touchpoint_common.access.audit import audit_read
from touchpoint_common.access.dependencies import require_scopes
from touchpoint_common.access.models import Scope
from touchpoint_common.app import get_runtime
from touchpoint_profile.customers.service import get_customer_view
from touchpoint_profile.customers.views import NOT_FOUND, CustomerIdPath, get_profile_settings
from touchpoint_profile.live.service import LiveFeed, Subscription, format_sse
from touchpoint_profile.settings import ProfileSettings

router = APIRouter(
    prefix="/v1/customers",
    tags=["customers"],
    dependencies=[Depends(require_scopes(Scope.PROFILES_READ))],
)
logger = logging.getLogger(__name__)
RETRY_AFTER_S = 2
SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def get_live_feed(app: FastAPI) -> LiveFeed:
    """The app's one live feed, made (not yet started) on first use."""
    feed: LiveFeed | None = getattr(app.state, "live_feed", None)
    if feed is None:
        settings = app.state.runtime.settings
        size = settings.live_queue_size if isinstance(settings, ProfileSettings) else 100
        feed = LiveFeed(settings, queue_size=size)
        app.state.live_feed = feed
    return feed


async def stop_live_feed(app: FastAPI) -> None:
    """Stop the reader, if a feed was ever opened (the app's shutdown hook)."""
    feed: LiveFeed | None = getattr(app.state, "live_feed", None)
    if feed is not None:
        await feed.stop()


@router.get(
    "/{customer_id}/live",
    summary="New interactions as server-sent events",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}},
        404: {"description": NOT_FOUND},
        503: {"description": "The broker cannot be read now (Retry-After)."},
    },
)
async def stream_live(request: Request, customer_id: CustomerIdPath) -> StreamingResponse:
    """`event: interaction` frames (event_id, type, channel, store_id, occurred_at) for every
    event of this customer written after the answer starts; 404 for an unknown customer."""
    settings = await get_profile_settings(request)
    # A session of its own, closed before streaming: a feed must not hold a pool connection.
    async with get_runtime(request).sessions() as db_session:
        view = await get_customer_view(
            db_session=db_session, customer_id=customer_id, now=datetime.now(UTC), settings=settings
        )
    if view is None:
        raise HTTPException(status_code=404, detail=NOT_FOUND)
    try:
        subscription = await get_live_feed(request.app).subscribe(view.customer_id)
    except (KafkaError, RuntimeError) as exc:
        logger.warning("live feed unavailable", extra={"error": type(exc).__name__})
        raise HTTPException(
            503, "live feed unavailable, try again", {"Retry-After": str(RETRY_AFTER_S)}
        ) from exc
    audit_read(request, customer_id=view.customer_id, action="profile.live", fields=["live"])
    return StreamingResponse(
        _stream(subscription, heartbeat_s=settings.live_heartbeat_s),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )


async def _stream(subscription: Subscription, *, heartbeat_s: float) -> AsyncIterator[str]:
    """`ready` first (the feed is listening), then each line, with comments as keep-alives."""
    try:
        ready = json.dumps({"customer_id": subscription.customer_id})
        yield f"event: ready\ndata: {ready}\n\n"
        while True:
            try:
                line = await asyncio.wait_for(subscription.queue.get(), heartbeat_s)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            yield format_sse(line)
    finally:
        subscription.close()

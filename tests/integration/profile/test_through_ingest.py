"""End to end: events posted through the ingest API appear in the profile view."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from tests.integration.keys import all_scopes_headers
from tests.integration.profile.test_api import eventually, random_cn_mobile, serve
from touchpoint_profile.settings import ProfileSettings

pytestmark = pytest.mark.integration
ingest_main = pytest.importorskip("touchpoint_ingest.main")
ingest_settings = pytest.importorskip("touchpoint_ingest.settings")


@asynccontextmanager
async def serve_ingest(settings: ProfileSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The ingest app on the same servers, topics and keys as the profile under test."""
    fields = settings.model_dump(include=set(ingest_settings.IngestSettings.model_fields))
    fields.update(service_name="ingest")
    app = ingest_main.create_app(ingest_settings.IngestSettings(**fields))
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://ingest",
            headers=await all_scopes_headers(settings),
        ) as client:
            yield client


def posted(kind: str, phone: str, payload: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """An event as a POS or call-centre client posts it."""
    at = datetime.now(UTC) - timedelta(minutes=30)
    return {
        "event_id": str(uuid.uuid4()),
        "type": kind,
        "channel": extra.pop("channel", "pos"),
        "occurred_at": at.isoformat(),
        "customer": {"phone": phone},
        "payload": payload,
        **extra,
    }


async def test_events_posted_through_ingest_appear_in_the_view(
    profile_settings: ProfileSettings,
) -> None:
    """A purchase (posted twice) and a complaint via ingest; the view counts once, text hidden."""
    phone = random_cn_mobile()
    purchase = posted(
        "purchase",
        phone,
        {
            "order_id": "A-1",
            "amount": "128.50",
            "currency": "CNY",
            "items": [{"sku": "t1", "category": "tents", "quantity": 3, "unit_price": "42.83"}],
        },
        store_id="12",
    )
    secret = "my address is 5 Secret Road"
    complaint = posted(
        "complaint",
        phone,
        {"complaint_id": "K-9", "category": "delivery", "severity": "high", "text": secret},
        channel="call_centre",
    )
    async with serve_ingest(profile_settings) as ingest, serve(profile_settings) as profile:
        for body in (purchase, purchase, complaint):
            answer = await ingest.post("/v1/events", json=body)
            assert answer.status_code == 202, answer.text
        digits = phone.replace(" ", "").removeprefix("+86")
        response = await eventually(
            lambda: profile.get("/v1/customers/lookup", params={"phone": digits}),
            lambda r: r.status_code == 200 and bool(r.json()["open_complaints"]),
        )
    view = response.json()
    assert view["rfm"]["frequency"] == 1
    assert view["rfm"]["monetary"] == "128.50"
    assert view["open_complaints"][0]["complaint_id"] == "K-9"
    assert view["identifiers"] == [{"kind": "phone", "masked": f"+86 139****{digits[-4:]}"}]
    assert secret not in response.text
    assert [line["line"] for line in view["timeline"]] == [
        "Call centre complaint K-9 opened: delivery, severity high",
        "POS purchase 3 items 128.50 CNY, store 12",
    ]

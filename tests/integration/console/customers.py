"""Customers made through the real ingest API for the console tests."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.integration.keys import bearer

LOOKUP_TIMEOUT_S = 30.0


def make_event(
    kind: str, customer: dict[str, str], payload: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    """An event body with a fresh id, now (or `occurred_at`)."""
    return {
        "event_id": str(uuid.uuid4()),
        "type": kind,
        "channel": fields.pop("channel", "pos"),
        "occurred_at": fields.pop("occurred_at", datetime.now(UTC)).isoformat(),
        "customer": customer,
        "payload": payload,
        **fields,
    }


def purchase(
    customer: dict[str, str], *, amount: str = "42.00", category: str = "tea", **fields: Any
) -> dict[str, Any]:
    """A till purchase of one item."""
    return make_event(
        "purchase",
        customer,
        {
            "order_id": f"o-{uuid.uuid4().hex[:8]}",
            "amount": amount,
            "currency": "CNY",
            "items": [
                {"sku": f"{category}-1", "category": category, "quantity": 1, "unit_price": amount}
            ],
        },
        store_id=fields.pop("store_id", "12"),
        **fields,
    )


def consent_to_calls(customer: dict[str, str], **fields: Any) -> dict[str, Any]:
    """The customer grants marketing on the call-centre channel (offers are opt-in there)."""
    return make_event(
        "consent",
        customer,
        {
            "purpose": "marketing",
            "channel": "call_centre",
            "status": "granted",
            "source": "web-preferences",
        },
        channel="web",
        **fields,
    )


async def post_events(
    client: httpx.AsyncClient, ingest: str, token: str, events: list[dict[str, Any]]
) -> None:
    """Post each event to ingest; every one must be accepted."""
    for body in events:
        answer = await client.post(f"{ingest}/v1/events", json=body, headers=bearer(token))
        assert answer.status_code == 202, answer.text


async def wait_for_view(
    client: httpx.AsyncClient,
    profile: str,
    token: str,
    params: dict[str, str],
    *,
    timeline_at_least: int,
) -> dict[str, Any]:
    """Poll the lookup until the view has folded at least that many timeline lines."""
    deadline = asyncio.get_running_loop().time() + LOOKUP_TIMEOUT_S
    while True:
        answer = await client.get(
            f"{profile}/v1/customers/lookup", params=params, headers=bearer(token)
        )
        if answer.status_code == 200 and len(answer.json()["timeline"]) >= timeline_at_least:
            view: dict[str, Any] = answer.json()
            return view
        assert asyncio.get_running_loop().time() < deadline, answer.text
        await asyncio.sleep(0.1)


def days_ago(days: float) -> datetime:
    """A moment `days` before now."""
    return datetime.now(UTC) - timedelta(days=days)

"""Builders of wire events for the profile tests (no I/O)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from touchpoint_common.events.models import InteractionEvent
from touchpoint_common.events.payloads import Channel, EventType
from touchpoint_profile.fold.events import ParsedEvent, parse_event

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CUSTOMER = "c-1"


def wire_event(
    kind: EventType | str,
    payload: dict[str, Any],
    *,
    at: datetime | None = None,
    days_ago: float = 0,
    channel: Channel | str = Channel.POS,
    store_id: str | None = None,
    customer_id: str = CUSTOMER,
    event_id: uuid.UUID | None = None,
) -> InteractionEvent:
    """An InteractionEvent as the topic carries it."""
    occurred = at or (NOW - timedelta(days=days_ago))
    return InteractionEvent(
        event_id=event_id or uuid.uuid4(),
        type=EventType(kind),
        channel=Channel(channel),
        occurred_at=occurred,
        received_at=occurred,
        customer_id=customer_id,
        store_id=store_id,
        payload=payload,
    )


def event(kind: EventType | str, payload: dict[str, Any], **kwargs: Any) -> ParsedEvent:
    """A parsed event ready for the fold."""
    return parse_event(wire_event(kind, payload, **kwargs))


def purchase_payload(
    amount: str = "100.00", *, category: str = "shoes", quantity: int = 1
) -> dict[str, Any]:
    """A one-line purchase."""
    return {
        "order_id": f"o-{uuid.uuid4().hex[:8]}",
        "amount": amount,
        "currency": "CNY",
        "items": [
            {
                "sku": "sku-1",
                "category": category,
                "quantity": quantity,
                "unit_price": str((Decimal(amount) / quantity).quantize(Decimal("0.01"))),
            }
        ],
    }


def purchase(amount: str = "100.00", *, category: str = "shoes", **kwargs: Any) -> ParsedEvent:
    """A parsed purchase."""
    return event("purchase", purchase_payload(amount, category=category), **kwargs)


def refund(amount: str, **kwargs: Any) -> ParsedEvent:
    """A parsed return."""
    payload = {"order_id": "o-r", "amount": amount, "currency": "CNY", "items": []}
    return event("return", payload, **kwargs)


def page_view(category: str, **kwargs: Any) -> ParsedEvent:
    """A parsed web page view of a category."""
    kwargs.setdefault("channel", "web")
    return event("page_view", {"url": "https://shop.example/p/1", "category": category}, **kwargs)


def complaint(complaint_id: str, **kwargs: Any) -> ParsedEvent:
    """A parsed complaint as it travels (text sealed)."""
    kwargs.setdefault("channel", "call_centre")
    payload = {
        "complaint_id": complaint_id,
        "category": "delivery",
        "severity": "high",
        "text_sealed": "v1:AAAA",
    }
    return event("complaint", payload, **kwargs)


def complaint_resolved(complaint_id: str, **kwargs: Any) -> ParsedEvent:
    """A parsed complaint resolution."""
    kwargs.setdefault("channel", "call_centre")
    payload = {"complaint_id": complaint_id, "resolution": "refund"}
    return event("complaint_resolved", payload, **kwargs)


def offer_presented(decision_id: str, offer_ids: list[str], **kwargs: Any) -> ParsedEvent:
    """A parsed offer_presented with offers of kind `perk`."""
    offers = [
        {"offer_id": offer_id, "rank": rank, "score": 0.5, "kind": "perk"}
        for rank, offer_id in enumerate(offer_ids, start=1)
    ]
    payload = {"decision_id": decision_id, "segment": "s", "strategy": "x", "offers": offers}
    return event("offer_presented", payload, **kwargs)


def offer_response(decision_id: str, offer_id: str, outcome: str, **kwargs: Any) -> ParsedEvent:
    """A parsed offer_response."""
    payload = {"decision_id": decision_id, "offer_id": offer_id, "outcome": outcome}
    return event("offer_response", payload, **kwargs)


def membership(action: str, tier: str | None = None, **kwargs: Any) -> ParsedEvent:
    """A parsed membership event."""
    payload: dict[str, Any] = {"action": action}
    if tier:
        payload["tier"] = tier
    return event("membership", payload, **kwargs)


def consent(
    status: str, *, purpose: str = "marketing", covers: str = "pos", **kwargs: Any
) -> ParsedEvent:
    """A parsed consent statement of `purpose` on channel `covers`."""
    payload = {"purpose": purpose, "channel": covers, "status": status, "source": "till-form"}
    return event("consent", payload, **kwargs)


def complaint_step(kind: str, complaint_id: str, **kwargs: Any) -> ParsedEvent:
    """A parsed step of a complaint's life as it travels (free text sealed)."""
    kwargs.setdefault("channel", "call_centre")
    payloads: dict[str, dict[str, Any]] = {
        "complaint_assigned": {"owner": kwargs.pop("owner", "agent-1")},
        "complaint_escalated": {
            "escalated_to": kwargs.pop("escalated_to", "manager"),
            "reason_sealed": "v1:REASON",
        },
        "complaint_remedy": {"remedy_sealed": "v1:REMEDY"},
        "complaint_resolved": {"resolution_sealed": "v1:RESOLUTION"},
        "complaint_follow_up": {
            "satisfaction": kwargs.pop("satisfaction", 4),
            "comment_sealed": "v1:COMMENT",
        },
    }
    return event(kind, {"complaint_id": complaint_id, **payloads[kind]}, **kwargs)


def call(
    *,
    note: bool = True,
    commitment_id: str | None = None,
    due_at: datetime | None = None,
    **kwargs: Any,
) -> ParsedEvent:
    """A parsed call as it travels, with a sealed note and maybe a commitment."""
    kwargs.setdefault("channel", "call_centre")
    payload: dict[str, Any] = {"duration_seconds": 120, "outcome": "callback"}
    if note:
        payload["note_sealed"] = "v1:NOTE"
    if commitment_id is not None:
        payload["commitment"] = {
            "commitment_id": commitment_id,
            "text_sealed": "v1:PROMISE",
            "due_at": (due_at or NOW + timedelta(days=2)).isoformat(),
        }
    return event("call", payload, **kwargs)


def commitment_fulfilled(commitment_id: str, **kwargs: Any) -> ParsedEvent:
    """A parsed commitment_fulfilled as it travels."""
    kwargs.setdefault("channel", "call_centre")
    payload = {"commitment_id": commitment_id, "note_sealed": "v1:KEPT"}
    return event("commitment_fulfilled", payload, **kwargs)

"""One valid example per event type: shown in the OpenAPI docs and checked by the unit tests."""

from __future__ import annotations

from typing import Any

AT = "2026-11-23T10:15:00+08:00"
LOYAL = {"loyalty_id": "L-100234"}
CALLER = {"phone": "+86 138 1234 5678"}
DECISION = {"decision_id": "dec-5d1e"}
COMPLAINT = {"complaint_id": "CMP-2026-0042"}
AGENT = {"agent_id": "agent-17"}


def _example(
    kind: str,
    channel: str,
    customer: dict[str, str],
    payload: dict[str, Any],
    **context: str,
) -> dict[str, Any]:
    """An event of this kind as a client posts it; `context` adds store_id or agent_id."""
    return {
        "type": kind,
        "channel": channel,
        "occurred_at": AT,
        "customer": dict(customer),
        **context,
        "payload": payload,
    }


def _cup(unit_price: str = "179.90") -> dict[str, Any]:
    """The teaware line of the example order."""
    return {"sku": "CUP-0007", "category": "teaware", "quantity": 1, "unit_price": unit_price}


EVENT_EXAMPLES: dict[str, dict[str, Any]] = {
    "purchase": {
        "event_id": "0b7a4a0e-3f7e-4b8e-9a43-1d2f5c6b7a01",
        **_example(
            "purchase",
            "pos",
            {**LOYAL, "phone": "138 1234 5678"},
            {
                "order_id": "SH-023-000981",
                "amount": "359.70",
                "currency": "CNY",
                "items": [
                    {"sku": "TEA-0192", "category": "tea", "quantity": 2, "unit_price": "89.90"},
                    _cup(),
                ],
            },
            store_id="SH-023",
        ),
    },
    "return": _example(
        "return",
        "pos",
        LOYAL,
        {"order_id": "SH-023-000981", "amount": "179.90", "currency": "CNY", "items": [_cup()]},
        store_id="SH-023",
    ),
    "call": _example(
        "call",
        "call_centre",
        CALLER,
        {
            "reason": "delivery_status",
            "duration_seconds": 240,
            "outcome": "callback",
            "note": "Upset about the late parcel; quoted 89.90 for the replacement lid.",
            "commitment": {
                "commitment_id": "CMT-2026-0107",
                "text": "Call back by Thursday noon with the courier's answer.",
                "due_at": "2026-11-26T12:00:00+08:00",
            },
        },
        **AGENT,
    ),
    "complaint": _example(
        "complaint",
        "call_centre",
        CALLER,
        {
            "complaint_id": "CMP-2026-0042",
            "category": "damaged_goods",
            "severity": "high",
            "text": "The teapot arrived cracked; I want a replacement before Friday.",
        },
        agent_id="agent-17",
    ),
    "complaint_assigned": _example(
        "complaint_assigned", "call_centre", CALLER, {**COMPLAINT, "owner": "agent-17"}, **AGENT
    ),
    "complaint_escalated": _example(
        "complaint_escalated",
        "call_centre",
        CALLER,
        {
            **COMPLAINT,
            "escalated_to": "store-manager-SH-023",
            "reason": "Second cracked teapot from the same batch; wants a refund.",
        },
        **AGENT,
    ),
    "complaint_remedy": _example(
        "complaint_remedy",
        "call_centre",
        CALLER,
        {**COMPLAINT, "remedy": "Replacement teapot by courier and a 50 CNY voucher."},
        **AGENT,
    ),
    "complaint_resolved": _example(
        "complaint_resolved",
        "call_centre",
        CALLER,
        {**COMPLAINT, "resolution": "replacement_sent"},
        **AGENT,
    ),
    "complaint_follow_up": _example(
        "complaint_follow_up",
        "call_centre",
        CALLER,
        {**COMPLAINT, "satisfaction": 4, "comment": "Happy with the replacement, slow at first."},
        **AGENT,
    ),
    "commitment_fulfilled": _example(
        "commitment_fulfilled",
        "call_centre",
        CALLER,
        {"commitment_id": "CMT-2026-0107", "note": "Called back; the parcel arrives Friday."},
        **AGENT,
    ),
    "page_view": _example(
        "page_view",
        "web",
        {"anonymous_id": "web-7f3c2a9e"},
        {"url": "/p/TEA-0192", "category": "tea", "sku": "TEA-0192"},
    ),
    "store_visit": _example(
        "store_visit",
        "store",
        LOYAL,
        {
            "zone": "teaware",
            "category": "teaware",
            "dwell_seconds": 420,
            "note": "Asked for the blue glaze set; none in stock.",
        },
        store_id="SH-023",
    ),
    "membership": _example(
        "membership",
        "app",
        {"email": "li.wei@example.com", **LOYAL},
        {"action": "joined", "tier": "silver"},
    ),
    "identify": _example(
        "identify",
        "web",
        {"anonymous_id": "web-7f3c2a9e"},
        {"link": {**LOYAL, "email": "Li.Wei@Example.com"}},
    ),
    "offer_presented": _example(
        "offer_presented",
        "web",
        LOYAL,
        {
            **DECISION,
            "segment": "A-active",
            "strategy": "champion",
            "offers": [{"offer_id": "OFF-TEA-10", "rank": 1, "score": 0.82}],
        },
    ),
    "offer_response": _example(
        "offer_response",
        "web",
        LOYAL,
        {**DECISION, "offer_id": "OFF-TEA-10", "outcome": "accepted"},
    ),
    "erase": _example(
        "erase",
        "email",
        {"email": "li.wei@example.com"},
        {"reason": "customer request by e-mail"},
    ),
    "consent": _example(
        "consent",
        "pos",
        LOYAL,
        {
            "purpose": "marketing",
            "channel": "sms",
            "status": "withdrawn",
            "source": "pos-preferences-screen",
        },
        store_id="SH-023",
    ),
    "unmerge": _example(
        "unmerge",
        "web",
        {"customer_id": "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"},
        {"customer_id": "7d1e4b2a-9c3f-4a5e-8b6d-0f1e2d3c4b5a"},
    ),
}

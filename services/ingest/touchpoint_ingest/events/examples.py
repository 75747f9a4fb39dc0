"""One valid example per event type: shown in the OpenAPI docs and checked by the unit tests."""

from __future__ import annotations

from typing import Any

AT = "2026-11-23T10:15:00+08:00"

EVENT_EXAMPLES: dict[str, dict[str, Any]] = {
    "purchase": {
        "event_id": "0b7a4a0e-3f7e-4b8e-9a43-1d2f5c6b7a01",
        "type": "purchase",
        "channel": "pos",
        "occurred_at": AT,
        "customer": {"loyalty_id": "L-100234", "phone": "138 1234 5678"},
        "store_id": "SH-023",
        "payload": {
            "order_id": "SH-023-000981",
            "amount": "359.70",
            "currency": "CNY",
            "items": [
                {"sku": "TEA-0192", "category": "tea", "quantity": 2, "unit_price": "89.90"},
                {"sku": "CUP-0007", "category": "teaware", "quantity": 1, "unit_price": "179.90"},
            ],
        },
    },
    "return": {
        "type": "return",
        "channel": "pos",
        "occurred_at": AT,
        "customer": {"loyalty_id": "L-100234"},
        "store_id": "SH-023",
        "payload": {
            "order_id": "SH-023-000981",
            "amount": "179.90",
            "currency": "CNY",
            "items": [
                {"sku": "CUP-0007", "category": "teaware", "quantity": 1, "unit_price": "179.90"}
            ],
        },
    },
    "call": {
        "type": "call",
        "channel": "call_centre",
        "occurred_at": AT,
        "customer": {"phone": "+86 138 1234 5678"},
        "agent_id": "agent-17",
        "payload": {"reason": "delivery_status", "duration_seconds": 240, "outcome": "resolved"},
    },
    "complaint": {
        "type": "complaint",
        "channel": "call_centre",
        "occurred_at": AT,
        "customer": {"phone": "+86 138 1234 5678"},
        "agent_id": "agent-17",
        "payload": {
            "complaint_id": "CMP-2026-0042",
            "category": "damaged_goods",
            "severity": "high",
            "text": "The teapot arrived cracked; I want a replacement before Friday.",
        },
    },
    "complaint_resolved": {
        "type": "complaint_resolved",
        "channel": "call_centre",
        "occurred_at": AT,
        "customer": {"phone": "+86 138 1234 5678"},
        "agent_id": "agent-17",
        "payload": {"complaint_id": "CMP-2026-0042", "resolution": "replacement_sent"},
    },
    "page_view": {
        "type": "page_view",
        "channel": "web",
        "occurred_at": AT,
        "customer": {"anonymous_id": "web-7f3c2a9e"},
        "payload": {"url": "/p/TEA-0192", "category": "tea", "sku": "TEA-0192"},
    },
    "store_visit": {
        "type": "store_visit",
        "channel": "store",
        "occurred_at": AT,
        "customer": {"loyalty_id": "L-100234"},
        "store_id": "SH-023",
        "payload": {"zone": "teaware", "category": "teaware", "dwell_seconds": 420},
    },
    "membership": {
        "type": "membership",
        "channel": "app",
        "occurred_at": AT,
        "customer": {"email": "li.wei@example.com", "loyalty_id": "L-100234"},
        "payload": {"action": "joined", "tier": "silver"},
    },
    "identify": {
        "type": "identify",
        "channel": "web",
        "occurred_at": AT,
        "customer": {"anonymous_id": "web-7f3c2a9e"},
        "payload": {"link": {"loyalty_id": "L-100234", "email": "Li.Wei@Example.com"}},
    },
    "offer_presented": {
        "type": "offer_presented",
        "channel": "web",
        "occurred_at": AT,
        "customer": {"loyalty_id": "L-100234"},
        "payload": {
            "decision_id": "dec-5d1e",
            "segment": "A-active",
            "strategy": "champion",
            "offers": [{"offer_id": "OFF-TEA-10", "rank": 1, "score": 0.82}],
        },
    },
    "offer_response": {
        "type": "offer_response",
        "channel": "web",
        "occurred_at": AT,
        "customer": {"loyalty_id": "L-100234"},
        "payload": {"decision_id": "dec-5d1e", "offer_id": "OFF-TEA-10", "outcome": "accepted"},
    },
    "erase": {
        "type": "erase",
        "channel": "email",
        "occurred_at": AT,
        "customer": {"email": "li.wei@example.com"},
        "payload": {"reason": "customer request by e-mail"},
    },
}

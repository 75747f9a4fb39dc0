"""What one interaction event changes in recommend's state (inside the caller's transaction)."""

from __future__ import annotations

import logging
from typing import Literal

from pydantic import ValidationError

from touchpoint_common.events.models import InteractionEvent
from touchpoint_common.events.payloads import (
    EventType,
    OfferPresentedPayload,
    OfferResponsePayload,
)
from touchpoint_recommend.store.protocol import PresentedDecision, RecommendStore

logger = logging.getLogger(__name__)
Applied = Literal[
    "presented", "presented_known", "response", "response_unmatched", "erase", "merge", "unmerge",
    "ignored", "invalid",
]  # fmt: skip


def presented_from_event(event: InteractionEvent) -> PresentedDecision:
    """The decision an offer_presented event carries (raises ValidationError when malformed)."""
    payload = OfferPresentedPayload.model_validate(event.payload)
    return PresentedDecision.model_validate(
        {
            **payload.model_dump(),
            "store_id": payload.store_id or event.store_id,
            "agent_id": payload.agent_id or event.agent_id,
            "customer_id": event.customer_id,
            "channel": event.channel.value,
            "decided_at": event.occurred_at,
        }
    )


async def apply_event(store: RecommendStore, event: InteractionEvent) -> Applied:
    """Fold one event: decisions (replayed), responses (learned once), erasure, merges."""
    try:
        if event.type == EventType.OFFER_PRESENTED:
            created = await store.create_decision(presented_from_event(event))
            return "presented" if created else "presented_known"
        if event.type == EventType.OFFER_RESPONSE:
            response = OfferResponsePayload.model_validate(event.payload)
            applied = await store.update_response(
                decision_id=response.decision_id,
                offer_id=response.offer_id,
                outcome=response.outcome.value,
                at=event.occurred_at,
            )
            return "response" if applied else "response_unmatched"
    except ValidationError:
        logger.warning(
            "offer event breaks the contract; skipped",
            extra={"event_id": str(event.event_id), "event_type": event.type.value},
        )
        return "invalid"
    if event.type == EventType.ERASE:
        await store.forget_customer(customer_id=event.customer_id)
        return "erase"
    if event.type == EventType.IDENTIFY:
        merged = event.payload.get("merged_customer_ids") or []
        if isinstance(merged, list) and merged:
            await store.merge_customers(
                into=event.customer_id, merged=[str(item) for item in merged]
            )
            return "merge"
    if event.type == EventType.UNMERGE:
        restored = event.payload.get("customer_id")
        followers = event.payload.get("followers") or []
        if isinstance(restored, str) and restored and isinstance(followers, list):
            await store.unmerge_customer(
                survivor=event.customer_id,
                restored=restored,
                followers=[str(item) for item in followers],
            )
            return "unmerge"
    return "ignored"

"""Pure construction of the InteractionEvent written to Kafka (TEAM.md wire contract)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from touchpoint_common.events.models import InteractionEvent, SealedIdentifier
from touchpoint_common.events.payloads import ComplaintPayload, UnmergePayload
from touchpoint_common.identity import pii
from touchpoint_common.identity.store import Identifier, ResolvedCustomer
from touchpoint_ingest.events.validation import ValidEvent

COMPLAINT_TEXT_CONTEXT = "complaint_text"


def seal_identifiers(
    identifiers: Iterable[Identifier], *, data_key: bytes
) -> list[SealedIdentifier]:
    """Identifiers as they travel: digest for look-up, value sealed with the customer's key."""
    return [
        SealedIdentifier(
            kind=ident.kind,
            digest=ident.digest,
            sealed=pii.seal(ident.value, data_key=data_key, context=ident.kind),
        )
        for ident in identifiers
    ]


def build_wire_payload(valid: ValidEvent, resolved: ResolvedCustomer) -> dict[str, Any]:
    """The type's payload with personal data sealed: complaint text, identify's links."""
    if valid.link is not None:
        linked = seal_identifiers(valid.link.identifiers, data_key=resolved.data_key)
        return {
            "linked": [item.model_dump(mode="json") for item in linked],
            "merged_customer_ids": list(resolved.merged_customer_ids),
        }
    payload = valid.payload.model_dump(mode="json", exclude_none=True)
    if isinstance(valid.payload, UnmergePayload):
        payload["followers"] = list(resolved.unmerged_followers)
    if isinstance(valid.payload, ComplaintPayload) and valid.payload.text is not None:
        del payload["text"]
        payload["text_sealed"] = pii.seal(
            valid.payload.text, data_key=resolved.data_key, context=COMPLAINT_TEXT_CONTEXT
        )
    return payload


def build_interaction(
    valid: ValidEvent, resolved: ResolvedCustomer, *, received_at: datetime
) -> InteractionEvent:
    """The record value for one accepted event, keyed by the resolved customer."""
    event = valid.event
    return InteractionEvent(
        event_id=valid.event_id,
        type=event.type,
        channel=event.channel,
        occurred_at=event.occurred_at,
        received_at=received_at,
        customer_id=resolved.customer_id,
        identifiers=seal_identifiers(valid.customer.identifiers, data_key=resolved.data_key),
        store_id=event.store_id,
        agent_id=event.agent_id,
        payload=build_wire_payload(valid, resolved),
    )

"""The decision on Kafka: an offer_presented InteractionEvent on the interactions topic, owed
through the transactional outbox (touchpoint_common.kafka.outbox)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint_common.events.models import InteractionEvent
from touchpoint_common.events.payloads import Channel, EventType, OfferPresentedPayload
from touchpoint_common.kafka.outbox import add_to_outbox
from touchpoint_common.kafka.publisher import event_record
from touchpoint_recommend.domain.decide import Decision
from touchpoint_recommend.store.protocol import PresentedDecision

ATTRIBUTION = ("store_id", "agent_id")


def build_offer_presented(
    decision: Decision,
    *,
    customer_id: str,
    now: datetime,
    store_id: str | None = None,
    agent_id: str | None = None,
) -> InteractionEvent:
    """The event that makes the decision log replayable (same contract as every event); the
    store and agent go on the envelope, as on every event, and in the payload with the rest
    of the decision."""
    presented = PresentedDecision.from_decision(decision, store_id=store_id, agent_id=agent_id)
    payload = OfferPresentedPayload.model_validate(
        presented.model_dump(include=set(OfferPresentedPayload.model_fields))
    )
    body = payload.model_dump(mode="json")
    for unsaid in ATTRIBUTION:  # decisions nobody attributed keep the payload they had before
        if body[unsaid] is None:
            del body[unsaid]
    return InteractionEvent(
        event_id=uuid.uuid4(),
        type=EventType.OFFER_PRESENTED,
        channel=Channel(decision.channel),
        occurred_at=decision.as_of,
        received_at=now,
        customer_id=customer_id,
        store_id=store_id,
        agent_id=agent_id,
        payload=body,
    )


async def create_outbox_event(
    *, db_session: AsyncSession, topic: str, event: InteractionEvent, scope: str
) -> None:
    """Owe the event to Kafka in the caller's transaction (the relay sends it after commit)."""
    await add_to_outbox(
        db_session=db_session,
        records=[event_record(event, topic=topic)],
        source=f"recommend/{event.type.value}",
        scope=scope,
    )

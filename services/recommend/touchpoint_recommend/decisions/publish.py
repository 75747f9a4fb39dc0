"""The decision on Kafka: an offer_presented InteractionEvent on the interactions topic."""

from __future__ import annotations

import uuid
from datetime import datetime

from touchpoint_common.events.models import InteractionEvent
from touchpoint_common.events.payloads import Channel, EventType, OfferPresentedPayload
from touchpoint_common.kafka.publisher import Publisher, event_record
from touchpoint_common.observability.metrics import EVENTS_PRODUCED
from touchpoint_recommend.domain.decide import Decision
from touchpoint_recommend.store.protocol import PresentedDecision


def build_offer_presented(
    decision: Decision, *, customer_id: str, now: datetime
) -> InteractionEvent:
    """The event that makes the decision log replayable (same contract as every event)."""
    presented = PresentedDecision.from_decision(decision)
    payload = OfferPresentedPayload.model_validate(
        presented.model_dump(include=set(OfferPresentedPayload.model_fields))
    )
    return InteractionEvent(
        event_id=uuid.uuid4(),
        type=EventType.OFFER_PRESENTED,
        channel=Channel(decision.channel),
        occurred_at=decision.as_of,
        received_at=now,
        customer_id=customer_id,
        payload=payload.model_dump(mode="json"),
    )


async def publish_event(
    publisher: Publisher, *, topic: str, event: InteractionEvent, timeout_s: float
) -> None:
    """Send and wait for the broker's acknowledgement (acks=all); NotAcknowledged if late."""
    await publisher.publish_all([event_record(event, topic=topic)], timeout_s=timeout_s)
    EVENTS_PRODUCED.labels("recommend", event.type.value).inc()

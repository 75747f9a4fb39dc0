"""The decision on Kafka: an offer_presented InteractionEvent on the interactions topic."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

from aiokafka import AIOKafkaProducer

from touchpoint_common.events.codec import build_headers, encode_event, encode_key
from touchpoint_common.events.models import InteractionEvent
from touchpoint_common.events.payloads import (
    Channel,
    EventType,
    OfferPresentedPayload,
    OfferShown,
)
from touchpoint_common.observability.metrics import EVENTS_PRODUCED
from touchpoint_recommend.domain.decide import Decision


def build_offer_presented(
    decision: Decision, *, customer_id: str, now: datetime
) -> InteractionEvent:
    """The event that makes the decision log replayable (same contract as every event)."""
    payload = OfferPresentedPayload(
        decision_id=decision.decision_id,
        segment=decision.segment,
        strategy=decision.strategy,
        holdout=decision.holdout,
        offers=[
            OfferShown(offer_id=o.offer_id, rank=o.rank, score=o.score, kind=o.kind)
            for o in decision.offers
        ],
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
    producer: AIOKafkaProducer, *, topic: str, event: InteractionEvent, timeout_s: float
) -> None:
    """Send and wait for the broker's acknowledgement (acks=all), within a deadline."""
    await asyncio.wait_for(
        producer.send_and_wait(
            topic, value=encode_event(event), key=encode_key(event), headers=build_headers(event)
        ),
        timeout=timeout_s,
    )
    EVENTS_PRODUCED.labels("recommend", event.type.value).inc()

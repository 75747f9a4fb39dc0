"""The event contract survives a trip through the real broker with the shared factories."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from tests.conftest import report
from touchpoint_common.events.codec import build_headers, decode_event, encode_event, encode_key
from touchpoint_common.events.models import InteractionEvent, SealedIdentifier
from touchpoint_common.events.payloads import Channel, EventType
from touchpoint_common.kafka.consumer import create_consumer
from touchpoint_common.kafka.producer import create_producer
from touchpoint_common.settings import CommonSettings

pytestmark = pytest.mark.integration


def make_event(customer_id: str) -> InteractionEvent:
    now = datetime.now(UTC)
    return InteractionEvent(
        event_id=uuid.uuid4(),
        type=EventType.PAGE_VIEW,
        channel=Channel.WEB,
        occurred_at=now,
        received_at=now,
        customer_id=customer_id,
        identifiers=[SealedIdentifier(kind="anonymous_id", digest="ab" * 32, sealed=None)],
        payload={"url": "https://shop.example/p/1", "category": "shoes"},
    )


async def test_produce_and_consume_round_trip(settings: CommonSettings) -> None:
    """An event produced with the shared producer comes back from the broker with the same
    key, value (decoded to an equal InteractionEvent) and headers, via the shared consumer."""
    events = [make_event(f"cust-{uuid.uuid4().hex[:8]}") for _ in range(5)]
    producer = create_producer(settings)
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                settings.topic_interactions,
                encode_event(event),
                key=encode_key(event),
                headers=build_headers(event),
            )
    finally:
        await producer.stop()

    group = f"foundation-roundtrip-{uuid.uuid4().hex[:8]}"
    consumer = create_consumer(settings, settings.topic_interactions, group_id=group)
    await consumer.start()
    wanted = {event.event_id: event for event in events}
    received: dict[uuid.UUID, tuple[bytes | None, InteractionEvent, list[tuple[str, bytes]]]] = {}
    try:
        async with asyncio.timeout(30):
            while len(received) < len(wanted):
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    for record in records:
                        event = decode_event(record.value)
                        if event.event_id in wanted:
                            received[event.event_id] = (record.key, event, list(record.headers))
        await consumer.commit()
    finally:
        await consumer.stop()

    for event_id, event in wanted.items():
        key, decoded, headers = received[event_id]
        assert key == event.customer_id.encode()
        assert decoded == event
        assert headers == build_headers(event)
    report(
        f"kafka: produced and consumed {len(events)} events on {settings.topic_interactions} "
        f"at {settings.kafka_bootstrap} (key, value, headers equal)"
    )

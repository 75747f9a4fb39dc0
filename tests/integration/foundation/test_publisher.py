"""The one publisher against a real broker: acked in time, not acked while the broker is down,
late acknowledgements reported once, and a retry of the same event_id never a second copy."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaProducer

from tests.integration.foundation.test_kafka_roundtrip import make_event as make_customer_event
from tests.integration.ingest.conftest import TopicReader
from touchpoint_common.events.models import InteractionEvent
from touchpoint_common.kafka.admin import create_topics
from touchpoint_common.kafka.producer import create_producer, start_producer
from touchpoint_common.kafka.publisher import (
    NotAcknowledged,
    OutgoingRecord,
    Publisher,
    event_record,
    watch_producer,
)
from touchpoint_common.settings import CommonSettings
from touchpoint_devtools.devservers import LocalKafka

pytestmark = pytest.mark.integration


def make_event() -> InteractionEvent:
    """A fresh page view of a fresh customer."""
    return make_customer_event(f"cust-{uuid.uuid4().hex[:8]}")


async def read_topic(bootstrap: str, topic: str, partitions: int) -> list[tuple[bytes, ...]]:
    """Every record of the topic so far as (key, value, event_id header or b'')."""
    reader = TopicReader(bootstrap, topic, partitions)
    await reader.start()
    try:
        records = await reader.catch_up(timeout_s=60)
    finally:
        await reader.stop()
    return [(r.key or b"", r.value or b"", dict(r.headers).get("event_id", b"")) for r in records]


async def test_events_and_raw_records_are_acknowledged_in_time(settings: CommonSettings) -> None:
    """With the broker up, publish() says True for each event and publish_all() returns for raw
    records (a dead letter's key, value and headers), which arrive byte for byte."""
    producer = create_producer(settings)
    await producer.start()
    try:
        publisher = Publisher(producer)
        events = [make_event() for _ in range(3)]
        acked = await publisher.publish(
            [event_record(event, topic=settings.topic_interactions) for event in events],
            timeout_s=10,
        )
        assert acked == [True, True, True]
        marker = uuid.uuid4().hex.encode()
        letters = [
            OutgoingRecord(
                topic=settings.topic_dead_letter,
                key=marker,
                value=b"not json " + bytes([n]),
                headers=(("dlq_reason", b"not JSON"), ("dlq_source_offset", str(n).encode())),
            )
            for n in range(2)
        ]
        await publisher.publish_all(letters, timeout_s=10)
        assert publisher.inflight == {}, "sends acknowledged in time are not kept"
    finally:
        await producer.stop()

    reader = TopicReader(settings.kafka_bootstrap, settings.topic_dead_letter, 1)
    await reader.start()
    try:
        records = [r for r in await reader.catch_up(timeout_s=30) if r.key == marker]
    finally:
        await reader.stop()
    assert [(r.value, list(r.headers)) for r in records] == [
        (letter.value, list(letter.headers)) for letter in letters
    ]
    written = await read_topic(settings.kafka_bootstrap, settings.topic_interactions, 3)
    event_ids = {ids for _, _, ids in written}
    assert all(str(event.event_id).encode() in event_ids for event in events)


async def test_broker_down_not_acked_then_late_ack_once_and_no_second_copy(
    settings: CommonSettings, own_kafka: Callable[[], LocalKafka]
) -> None:
    """While the broker is stopped nothing is acknowledged (publish_all raises NotAcknowledged)
    and a retry of the same event_id waits for the first send; once the broker is back the
    late acknowledgement is reported once, a later retry is acknowledged at once, and the topic
    holds exactly one copy."""
    broker = await asyncio.to_thread(own_kafka)
    private = CommonSettings(
        **{
            **settings.model_dump(),
            "kafka_bootstrap": broker.bootstrap,
            "topic_partitions": 1,
            # Long enough for the pending send to outlive the broker's restart.
            "kafka_request_timeout_ms": 120_000,
        }
    )
    await create_topics(private)
    topic = private.topic_interactions
    producer = create_producer(private)
    await producer.start()
    late: list[OutgoingRecord] = []
    heard = asyncio.Event()

    def on_late_ack(record: OutgoingRecord) -> None:
        late.append(record)
        heard.set()

    try:
        publisher = Publisher(producer)
        assert await publisher.publish([event_record(make_event(), topic=topic)], timeout_s=10)
        await asyncio.to_thread(broker.stop)

        event = make_event()
        record = event_record(event, topic=topic)
        assert await publisher.publish([record], timeout_s=1.0, on_late_ack=on_late_ack) == [False]
        first_send = publisher.inflight[event.event_id]
        retry = await publisher.publish([record], timeout_s=1.0, on_late_ack=on_late_ack)
        assert retry == [False]
        assert publisher.inflight[event.event_id] is first_send, "the retry shares the send"
        with pytest.raises(NotAcknowledged):
            await publisher.publish_all([event_record(make_event(), topic=topic)], timeout_s=1.0)
        assert late == []

        await asyncio.to_thread(broker.start)
        await asyncio.wait_for(heard.wait(), timeout=120)
        assert publisher.inflight[event.event_id] is first_send, "kept for retries after a late ack"
        assert await publisher.publish([record], timeout_s=5, on_late_ack=on_late_ack) == [True]
        await asyncio.sleep(0.5)
        assert [r.dedup_key for r in late] == [event.event_id], "reported once"
    finally:
        await producer.stop()

    written = await read_topic(broker.bootstrap, topic, 1)
    copies = [ids for _, _, ids in written if ids == str(event.event_id).encode()]
    assert len(copies) == 1, "a retry wrote a second copy"


@pytest.mark.parametrize("request_timeout_ms", [120_000, 1_000], ids=["pending", "failing"])
async def test_a_producer_whose_sends_stall_is_replaced_and_sending_resumes(
    settings: CommonSettings, own_kafka: Callable[[], LocalKafka], request_timeout_ms: int
) -> None:
    """A send that waits longer than the stall limit, or sends that all fail for that long
    (both seen under make chaos), make the watchdog replace the publisher's producer, and
    sending resumes through the new one. The stalled producer talks
    to a private broker that is then stopped; the replacement is made on the session's
    healthy broker, so the test does not depend on how long a broker restart takes."""
    broker = await asyncio.to_thread(own_kafka)
    private = CommonSettings(
        **{
            **settings.model_dump(),
            "kafka_bootstrap": broker.bootstrap,
            "topic_partitions": 1,
            "kafka_request_timeout_ms": request_timeout_ms,
        }
    )
    await create_topics(private)
    first = await start_producer(private)
    publisher = Publisher(first)
    replaced = asyncio.Event()
    used: list[AIOKafkaProducer] = []

    def on_replaced(producer: AIOKafkaProducer) -> None:
        used.append(producer)
        replaced.set()

    async def create() -> AIOKafkaProducer:
        return await start_producer(settings)

    watch = asyncio.create_task(
        watch_producer(
            publisher, create=create, stall_s=2.0, on_replaced=on_replaced, check_every_s=0.2
        )
    )
    try:
        stuck_topic = private.topic_interactions
        assert await publisher.publish(
            [event_record(make_event(), topic=stuck_topic)], timeout_s=10
        )
        assert publisher.get_oldest_pending_s() == 0.0
        await asyncio.to_thread(broker.stop)
        stalled = await publisher.publish(
            [event_record(make_event(), topic=stuck_topic)], timeout_s=1
        )
        assert stalled == [False]
        await asyncio.wait_for(replaced.wait(), timeout=60)
        assert publisher.producer is used[0] is not first
        assert publisher.get_stall_s() == 0.0, "the old producer's sends are let go"
        healthy = settings.topic_interactions
        acked = await publisher.publish([event_record(make_event(), topic=healthy)], timeout_s=30)
        assert acked == [True]
    finally:
        watch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watch
        for producer in {publisher.producer, first}:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), timeout=10)

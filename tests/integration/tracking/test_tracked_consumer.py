"""The one tracked consumer on the real broker and database, with a minimal handler: a batch
is applied once however often it is delivered, a stale writer rolls back, and a record the
handler rejects goes to the dead-letter topic without stalling the partition."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.records import read_first_record
from touchpoint_common.kafka.admin import create_topics
from touchpoint_common.kafka.consumer import create_consumer
from touchpoint_common.kafka.producer import create_producer
from touchpoint_common.settings import CommonSettings
from touchpoint_common.tracking.consumer import TrackedConsumer, Tracking
from touchpoint_common.tracking.dead_letter import Rejected
from touchpoint_common.tracking.offsets import OffsetConflict, PostgresOffsetStore

pytestmark = pytest.mark.integration
APPLIED = "tracking_test_applied"
Item = tuple[int, int, str]


class CountingHandler:
    """Writes one row per applied record with its value as text; b"bad" is rejected."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def decode(self, record: ConsumerRecord[bytes, bytes]) -> Item:
        """(partition, offset, value), or Rejected for a bad value."""
        if record.value == b"bad":
            raise Rejected("value is not a number", "contract")
        return record.partition, record.offset, record.value.decode()

    async def apply(self, *, db_session: AsyncSession, items: Sequence[Item]) -> int:
        """One row per record."""
        for partition, offset, value in items:
            await db_session.execute(
                text(
                    f"INSERT INTO {APPLIED} (tag, partition, record_offset, note) "  # noqa: S608
                    "VALUES (:t, :p, :o, :n)"
                ),
                {"t": self.tag, "p": partition, "o": offset, "n": value},
            )
        return len(items)

    def observe(self, items: Sequence[Item], outcome: int) -> None:
        """Nothing to count."""


@pytest_asyncio.fixture
async def tracked(
    settings: CommonSettings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[tuple[CommonSettings, Tracking, AIOKafkaProducer]]:
    """Own topics, group and rows; a started producer."""
    suffix = uuid.uuid4().hex[:8]
    own = settings.model_copy(
        update={
            "topic_interactions": f"tracking-{suffix}",
            "topic_dead_letter": f"tracking-{suffix}.dlq",
            "topic_partitions": 2,
        }
    )
    await create_topics(own)
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {APPLIED} "
                "(tag text, partition int, record_offset bigint, note text)"
            )
        )
    tracking = Tracking(
        group=f"tracking-test-{suffix}",
        topic=own.topic_interactions,
        dead_letter_topic=own.topic_dead_letter,
        client_id="tracking-test",
        since=lambda: None,
        batch_timeout_ms=100,
    )
    producer = create_producer(own)
    await producer.start()
    yield own, tracking, producer
    await producer.stop()


def counting_consumer(
    settings: CommonSettings,
    tracking: Tracking,
    sessions: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
) -> TrackedConsumer[Item, int]:
    """A tracked consumer of the test's topic with the counting handler."""
    return TrackedConsumer(
        settings,
        tracking=tracking,
        handler=CountingHandler(tracking.group),
        sessions=sessions,
        producer=producer,
    )


async def _produce(producer: AIOKafkaProducer, topic: str, values: list[bytes]) -> None:
    for index, value in enumerate(values):
        await producer.send_and_wait(topic, value=value, partition=index % 2)


async def _drain(consumer: TrackedConsumer[Item, int], expected: int) -> None:
    """Poll until the stored positions cover `expected` records."""
    async with asyncio.timeout(30):
        while sum(p or 0 for p in consumer.positions.values()) < expected:
            await consumer.poll_once()


async def _applied(sessions: async_sessionmaker[AsyncSession], tag: str) -> list[tuple[int, int]]:
    async with sessions() as session:
        rows = await session.execute(
            text(
                f"SELECT partition, record_offset FROM {APPLIED} WHERE tag = :t "  # noqa: S608
                "ORDER BY partition, record_offset"
            ),
            {"t": tag},
        )
        return [(row.partition, row.record_offset) for row in rows]


async def test_a_batch_delivered_again_is_applied_once(
    tracked: tuple[CommonSettings, Tracking, AIOKafkaProducer],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Records re-delivered below the stored position (a partition revoked and handed back
    mid-commit is re-read from an older seek) are skipped, not applied a second time."""
    settings, tracking, producer = tracked
    await _produce(producer, tracking.topic, [b"1", b"2", b"3", b"4"])
    consumer = counting_consumer(settings, tracking, sessions, producer)
    await consumer.start()
    try:
        await _drain(consumer, 4)
        reader = create_consumer(settings, group_id=None)
        await reader.start()
        try:
            partitions = [TopicPartition(tracking.topic, p) for p in (0, 1)]
            reader.assign(partitions)
            await reader.seek_to_beginning(*partitions)
            batch = await reader.getmany(timeout_ms=5000)
            again = [record for tp in sorted(batch) for record in batch[tp]]
        finally:
            await reader.stop()
        assert len(again) == 4
        assert await consumer.process(again) is None
    finally:
        await consumer.stop()
    assert await _applied(sessions, tracking.group) == [(0, 0), (0, 1), (1, 0), (1, 1)]


async def test_a_stale_writer_rolls_back(
    tracked: tuple[CommonSettings, Tracking, AIOKafkaProducer],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A zombie that still believes in the old position cannot commit: its transaction, the
    applied rows included, rolls back with OffsetConflict."""
    settings, tracking, producer = tracked
    live = counting_consumer(settings, tracking, sessions, producer)
    zombie = counting_consumer(settings, tracking, sessions, producer)
    zombie.positions = {0: None}
    await live.commit_to_database([(0, 0, "1")], {0: 1})
    with pytest.raises(OffsetConflict):
        await zombie.commit_to_database([(0, 0, "1")], {0: 1})
    assert await _applied(sessions, tracking.group) == [(0, 0)]
    async with sessions() as session:
        stored = await PostgresOffsetStore(session).get_offsets(
            group=tracking.group, topic=tracking.topic
        )
    assert stored == {0: 1}


async def test_a_rejected_record_is_dead_lettered_and_the_partition_moves_on(
    tracked: tuple[CommonSettings, Tracking, AIOKafkaProducer],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A record the handler rejects lands on the dead-letter topic with the dlq_* headers;
    the records around it are applied and the stored position passes it."""
    settings, tracking, producer = tracked
    await _produce(producer, tracking.topic, [b"1", b"2", b"bad", b"4"])
    consumer = counting_consumer(settings, tracking, sessions, producer)
    await consumer.start()
    try:
        await _drain(consumer, 4)
    finally:
        await consumer.stop()
    assert await _applied(sessions, tracking.group) == [(0, 0), (1, 0), (1, 1)]
    letter = await read_first_record(settings, tracking.dead_letter_topic)
    headers = dict(letter.headers)
    assert letter.value == b"bad"
    assert headers["dlq_reason_class"] == b"contract"
    assert headers["dlq_source_partition"] == b"0"
    assert headers["dlq_source_offset"] == b"1"
    assert headers["dlq_consumer_group"] == tracking.group.encode()


async def test_a_record_the_database_refuses_is_dead_lettered_not_retried_for_ever(
    tracked: tuple[CommonSettings, Tracking, AIOKafkaProducer],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A value PostgreSQL refuses (a NUL in text, SQLSTATE 22021) fails its batch; the batch
    is applied one record at a time, the refused record goes to the dead-letter topic
    without the server's message, and every other record is applied once."""
    settings, tracking, producer = tracked
    await _produce(producer, tracking.topic, [b"1", b"2", b"3", b"x\x00y", b"5", b"6"])
    consumer = counting_consumer(settings, tracking, sessions, producer)
    await consumer.start()
    try:
        await _drain(consumer, 6)
    finally:
        await consumer.stop()
    assert await _applied(sessions, tracking.group) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 2)]
    letter = await read_first_record(settings, tracking.dead_letter_topic)
    headers = dict(letter.headers)
    assert letter.value == b"x\x00y"
    assert headers["dlq_reason_class"] == b"unstorable"
    assert headers["dlq_reason"] == b"DBAPIError (SQLSTATE 22021)"
    assert headers["dlq_source_offset"] == b"1"

"""The fold consumer on the real broker and database: exactly once, crash-safe, DLQ, merges."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.profile.conftest import Produce
from tests.integration.records import drain, read_first_record
from tests.unit.profile.factories import purchase_payload, wire_event
from touchpoint_common.events.codec import encode_event
from touchpoint_common.events.models import InteractionEvent
from touchpoint_common.tracking.offsets import PostgresOffsetStore
from touchpoint_profile.consumer.runner import ProfileConsumer
from touchpoint_profile.customers.service import get_customer_view
from touchpoint_profile.projection.postgres import PostgresProjection
from touchpoint_profile.settings import ProfileSettings

pytestmark = pytest.mark.integration


class Crash(Exception):
    """Stands for the process dying at a chosen point."""


def purchases(customer_id: str, count: int, amount: str = "10.00") -> list[InteractionEvent]:
    """`count` purchases for one customer over the last days."""
    now = datetime.now(UTC)
    return [
        wire_event(
            "purchase",
            purchase_payload(amount),
            at=now - timedelta(hours=i + 1),
            customer_id=customer_id,
            store_id="12",
        )
        for i in range(count)
    ]


def new_consumer(
    settings: ProfileSettings,
    sessions: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
    cls: type[ProfileConsumer] = ProfileConsumer,
) -> ProfileConsumer:
    """A consumer of the test's topic and group."""
    return cls(settings, sessions=sessions, producer=producer)


async def view_of(sessions: async_sessionmaker[AsyncSession], settings: ProfileSettings, cid: str):
    """The view at wall-clock now."""
    async with sessions() as session:
        return await get_customer_view(
            db_session=session, customer_id=cid, now=datetime.now(UTC), settings=settings
        )


async def kafka_committed(settings: ProfileSettings) -> dict[int, int | None]:
    """What Kafka holds as the group's committed offsets (what the lag tools read)."""
    reader = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=settings.consumer_group
    )
    await reader.start()
    try:
        return {
            p: await reader.committed(TopicPartition(settings.topic_interactions, p))
            for p in range(settings.topic_partitions)
        }
    finally:
        await reader.stop()


async def db_offsets(sessions: async_sessionmaker[AsyncSession], settings: ProfileSettings):
    """The offsets stored with the projection."""
    async with sessions() as session:
        return await PostgresOffsetStore(session).get_offsets(
            group=settings.consumer_group, topic=settings.topic_interactions
        )


async def test_produced_events_appear_in_the_view_and_offsets_agree(
    profile_settings: ProfileSettings,
    sessions: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
    produce: Produce,
) -> None:
    """Events on the topic become the view; Kafka's committed offsets equal the database's."""
    customers = [f"cust-{uuid.uuid4().hex[:6]}" for _ in range(5)]
    for index, customer_id in enumerate(customers):
        await produce(purchases(customer_id, index + 1, "25.00"))
    consumer = new_consumer(profile_settings, sessions, producer)
    await consumer.start()
    try:
        await drain(consumer)
    finally:
        await consumer.stop()
    for index, customer_id in enumerate(customers):
        view = await view_of(sessions, profile_settings, customer_id)
        assert view is not None
        assert view.rfm.frequency == index + 1
        assert view.rfm.monetary == Decimal("25.00") * (index + 1)
        assert view.channels.preferred_store == "12"
        assert view.timeline[0].line == "POS purchase 1 item 25.00 CNY, store 12"
    stored = await db_offsets(sessions, profile_settings)
    assert sum(stored.values()) == 15
    committed = await kafka_committed(profile_settings)
    assert {p: o for p, o in committed.items() if o is not None} == stored


async def test_duplicate_delivery_counts_once(
    profile_settings: ProfileSettings,
    sessions: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
    produce: Produce,
) -> None:
    """The same event_id on the topic twice (a producer retry or a re-post) counts once."""
    customer_id = f"cust-{uuid.uuid4().hex[:6]}"
    events = purchases(customer_id, 3)
    await produce(events + events[:2])
    consumer = new_consumer(profile_settings, sessions, producer)
    await consumer.start()
    try:
        await drain(consumer)
    finally:
        await consumer.stop()
    view = await view_of(sessions, profile_settings, customer_id)
    assert view is not None
    assert (view.rfm.frequency, view.rfm.monetary) == (3, Decimal("30.00"))
    assert len(view.timeline) == 3


async def poll_until_crash(consumer: ProfileConsumer) -> None:
    """Poll until the consumer dies (raises)."""
    for _ in range(200):
        await consumer.poll_once()


class CrashBeforeKafkaCommit(ProfileConsumer):
    """Dies after the database commit of its first batch, before telling Kafka."""

    async def commit_to_kafka(self, offsets: dict[int, int]) -> None:
        raise Crash("killed between the database commit and the Kafka commit")


class CrashBeforeDatabaseCommit(ProfileConsumer):
    """Dies inside the transaction, after writing states, before the commit."""

    async def commit_to_database(self, events: list[Any], offsets: dict[int, int]) -> Any:
        async with self.sessions() as session, session.begin():
            store = PostgresProjection(session)
            states = await store.get_states_for_update([e.event.customer_id for e in events])
            await store.put_states(list(states.values()))
            raise Crash("killed before the database commit")


@pytest.mark.parametrize("crashing", [CrashBeforeKafkaCommit, CrashBeforeDatabaseCommit])
async def test_consumer_killed_mid_batch_resumes_with_exact_counts(
    crashing: type[ProfileConsumer],
    profile_settings: ProfileSettings,
    sessions: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
    produce: Produce,
) -> None:
    """A consumer killed around its commit and a new one in its place leave every count exact."""
    settings = profile_settings.model_copy(update={"consumer_batch_max_records": 7})
    customer_id = f"cust-{uuid.uuid4().hex[:6]}"
    await produce(purchases(customer_id, 20))
    doomed = new_consumer(settings, sessions, producer, crashing)
    await doomed.start()
    try:
        with pytest.raises(Crash):
            await poll_until_crash(doomed)
    finally:
        await doomed.stop()
    await produce(purchases(customer_id, 5))
    survivor = new_consumer(settings, sessions, producer)
    await survivor.start()
    try:
        reread = await drain(survivor)
    finally:
        await survivor.stop()
    # Resumed from the database's offsets: only what was not committed there is read again.
    assert reread == (18 if crashing is CrashBeforeKafkaCommit else 25)
    view = await view_of(sessions, settings, customer_id)
    assert view is not None
    assert (view.rfm.frequency, view.rfm.monetary) == (25, Decimal("250.00"))
    stored = await db_offsets(sessions, settings)
    assert sum(stored.values()) == 25
    committed = await kafka_committed(settings)
    assert {p: o for p, o in committed.items() if o is not None} == stored


async def test_poison_records_go_to_the_dead_letter_topic_and_the_fold_goes_on(
    profile_settings: ProfileSettings,
    sessions: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
    produce: Produce,
) -> None:
    """Garbage and a contract-breaking event are dead-lettered with reasons; the rest folds."""
    customer_id = f"cust-{uuid.uuid4().hex[:6]}"
    topic = profile_settings.topic_interactions
    await producer.send_and_wait(topic, key=customer_id.encode(), value=b"{not json")
    broken = wire_event("purchase", {"order_id": "o"}, customer_id=customer_id)
    await producer.send_and_wait(topic, key=customer_id.encode(), value=encode_event(broken))
    await produce(purchases(customer_id, 2))
    consumer = new_consumer(profile_settings, sessions, producer)
    await consumer.start()
    try:
        await drain(consumer)
    finally:
        await consumer.stop()
    view = await view_of(sessions, profile_settings, customer_id)
    assert view is not None
    assert view.rfm.frequency == 2
    reader = AIOKafkaConsumer(
        profile_settings.topic_dead_letter,
        bootstrap_servers=profile_settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await reader.start()
    try:
        batch = await reader.getmany(timeout_ms=5000)
        letters = [record for records in batch.values() for record in records]
    finally:
        await reader.stop()
    assert len(letters) == 2
    headers = [dict(letter.headers) for letter in letters]
    reasons = sorted(h["dlq_reason"].decode() for h in headers)
    assert reasons[0].startswith("not JSON")
    assert reasons[1].startswith("purchase payload")
    assert "amount" in reasons[1]
    assert {h["dlq_consumer_group"].decode() for h in headers} == {profile_settings.consumer_group}
    assert {h["dlq_source_topic"].decode() for h in headers} == {topic}
    assert {letter.value for letter in letters} >= {b"{not json"}


async def test_an_event_postgresql_refuses_is_dead_lettered_and_others_keep_folding(
    profile_settings: ProfileSettings,
    sessions: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
    produce: Produce,
) -> None:
    """A NUL in a text field passes the contract but not jsonb (SQLSTATE 22P05): it goes to
    the dead-letter topic and the other customers in its batch are still folded, once."""
    poisoned, healthy = (f"cust-{uuid.uuid4().hex[:6]}" for _ in range(2))
    await produce(purchases(healthy, 2))
    bad = wire_event("purchase", purchase_payload("5.00"), customer_id=poisoned, store_id="1\x002")
    await produce([bad, *purchases(healthy, 1), *purchases(poisoned, 1)])
    consumer = new_consumer(profile_settings, sessions, producer)
    await consumer.start()
    try:
        await drain(consumer)
    finally:
        await consumer.stop()
    healthy_view = await view_of(sessions, profile_settings, healthy)
    poisoned_view = await view_of(sessions, profile_settings, poisoned)
    assert healthy_view is not None
    assert healthy_view.rfm.frequency == 3
    assert poisoned_view is not None
    assert poisoned_view.rfm.frequency == 1
    letter = await read_first_record(profile_settings, profile_settings.topic_dead_letter)
    assert dict(letter.headers)["dlq_reason_class"] == b"unstorable"
    assert letter.value == encode_event(bad)
    assert sum((await db_offsets(sessions, profile_settings)).values()) == 5


async def test_identify_merges_the_merged_customers_state(
    profile_settings: ProfileSettings,
    sessions: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
    produce: Produce,
) -> None:
    """identify with merged_customer_ids folds the losers' figures into the survivor once."""
    survivor, loser = (f"cust-{uuid.uuid4().hex[:6]}" for _ in range(2))
    await produce(purchases(survivor, 2) + purchases(loser, 3))
    consumer = new_consumer(profile_settings, sessions, producer)
    await consumer.start()
    try:
        await drain(consumer)
        identify = wire_event(
            "identify",
            {"linked": [], "merged_customer_ids": [loser]},
            at=datetime.now(UTC),
            customer_id=survivor,
        )
        await produce([identify, identify])
        await produce(purchases(loser, 1))  # a late event keyed by the merged id
        await drain(consumer)
    finally:
        await consumer.stop()
    view = await view_of(sessions, profile_settings, survivor)
    assert view is not None
    assert view.rfm.frequency == 6
    merged_view = await view_of(sessions, profile_settings, loser)
    assert merged_view is not None
    assert merged_view.customer_id == survivor


class LosesItsConnectionOnce(ProfileConsumer):
    """The database drops the batch's connection mid-transaction, the first time only."""

    dropped = 0

    async def apply_in_transaction(self, session: AsyncSession, *args: Any) -> Any:
        if LosesItsConnectionOnce.dropped == 0:
            LosesItsConnectionOnce.dropped += 1
            await session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return await super().apply_in_transaction(session, *args)


async def test_transient_database_error_is_retried_without_skipping(
    profile_settings: ProfileSettings,
    sessions: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
    produce: Produce,
) -> None:
    """A connection killed by PostgreSQL mid-batch: the batch is retried, no loss, no double."""
    customer_id = f"cust-{uuid.uuid4().hex[:6]}"
    await produce(purchases(customer_id, 4))
    consumer = new_consumer(profile_settings, sessions, producer, LosesItsConnectionOnce)
    await consumer.start()
    try:
        processed = await drain(consumer)
    finally:
        await consumer.stop()
    assert LosesItsConnectionOnce.dropped == 1
    assert processed == 4
    view = await view_of(sessions, profile_settings, customer_id)
    assert view is not None
    assert view.rfm.frequency == 4
    assert sum((await db_offsets(sessions, profile_settings)).values()) == 4

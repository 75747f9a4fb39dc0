"""The learner on the real broker and database: offsets live with the state, crash-safe,
and the topic rebuilds the state."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer, TopicPartition
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.integration.records import drain, read_first_record
from touchpoint_common.db.engine import create_engine, create_session_factory
from touchpoint_common.db.migrate import run_migrations
from touchpoint_common.events.codec import build_headers, encode_event, encode_key
from touchpoint_common.events.models import InteractionEvent
from touchpoint_common.events.payloads import Channel, EventType
from touchpoint_common.kafka.admin import create_topics
from touchpoint_common.kafka.producer import create_producer
from touchpoint_common.settings import CommonSettings
from touchpoint_recommend.learner.consumer import Learner
from touchpoint_recommend.settings import RecommendSettings

pytestmark = pytest.mark.integration
OFFSETS_QUERY = "SELECT partition, next_offset FROM consumer_offsets WHERE group_id = :g"


@pytest_asyncio.fixture
async def producer(recommend_settings: RecommendSettings) -> AsyncIterator[AIOKafkaProducer]:
    """The producer a learner writes dead letters with."""
    started = create_producer(recommend_settings)
    await started.start()
    yield started
    await started.stop()


class Crash(Exception):
    """Stands for the process dying between the database commit and the Kafka commit."""


class CrashBeforeKafkaCommit(Learner):
    """A learner that dies right after its first batch's database commit."""

    async def commit_to_kafka(self, offsets: dict[int, int]) -> None:
        if offsets:
            raise Crash


def _event(kind: EventType, customer_id: str, payload: Mapping[str, object]) -> InteractionEvent:
    now = datetime.now(UTC)
    return InteractionEvent(
        event_id=uuid.uuid4(),
        type=kind,
        channel=Channel.POS,
        occurred_at=now,
        received_at=now,
        customer_id=customer_id,
        payload=dict(payload),
    )


def _isolated(settings: RecommendSettings, suffix: str) -> RecommendSettings:
    """The test's own topic and consumer group on the session servers."""
    return settings.model_copy(
        update={
            "topic_interactions": f"{settings.topic_interactions}.learner-{suffix}",
            "learner_group": f"touchpoint-recommend-learner-test-{suffix}",
        }
    )


def _decisions_and_responses(suffix: str, segment: str, count: int) -> list[InteractionEvent]:
    """`count` one-offer decisions; every third accepted, the rest rejected; each response
    posted twice."""
    events: list[InteractionEvent] = []
    for index in range(count):
        customer_id, decision_id = f"c-{suffix}-{index}", f"d-{suffix}-{index}"
        presented = {
            "decision_id": decision_id,
            "segment": segment,
            "strategy": "s",
            "holdout": index % 4 == 0,
            "offers": [{"offer_id": "gear-check", "rank": 1, "score": 0.5, "kind": "service"}],
        }
        events.append(_event(EventType.OFFER_PRESENTED, customer_id, presented))
        outcome = "accepted" if index % 3 == 0 else "rejected"
        response = {"decision_id": decision_id, "offer_id": "gear-check", "outcome": outcome}
        events.append(_event(EventType.OFFER_RESPONSE, customer_id, response))
        events.append(_event(EventType.OFFER_RESPONSE, customer_id, response))
    return events


async def _produce(settings: RecommendSettings, events: list[InteractionEvent]) -> None:
    """Write events as ingest and recommend do (key, value, headers)."""
    producer = create_producer(settings)
    await producer.start()
    try:
        for item in events:
            await producer.send_and_wait(
                settings.topic_interactions,
                value=encode_event(item),
                key=encode_key(item),
                headers=build_headers(item),
            )
    finally:
        await producer.stop()


async def test_learner_resumes_from_database_offsets_after_a_crash(
    recommend_settings: RecommendSettings, db: AsyncEngine, producer: AIOKafkaProducer
) -> None:
    """Crash after the DB commit, before Kafka's: after the restart nothing is applied twice,
    counts are exact, and Kafka's committed offsets are brought level with the database's."""
    suffix = uuid.uuid4().hex[:8]
    settings = _isolated(recommend_settings, suffix)
    await create_topics(settings)
    segment = f"seg-{suffix}"
    events = _decisions_and_responses(suffix, segment, 6)
    await _produce(settings, events)

    sessions = create_session_factory(db)
    crashing = CrashBeforeKafkaCommit(settings, sessions, producer)
    await crashing.start()
    try:
        with pytest.raises(Crash):
            await drain(crashing)
    finally:
        await crashing.stop()

    restarted = Learner(settings, sessions, producer)
    await restarted.start()
    try:
        await drain(restarted)
        async with db.connect() as connection:
            stored: dict[int, int] = dict(
                (await connection.execute(text(OFFSETS_QUERY), {"g": settings.learner_group})).all()
            )
        # Kafka is told after each batch and after an assignment (from the poll loop).
        assert restarted.consumer is not None
        partitions = [TopicPartition(settings.topic_interactions, p) for p in stored]
        deadline = asyncio.get_running_loop().time() + 20
        committed: dict[int, int | None] = {}
        while committed != stored:
            assert asyncio.get_running_loop().time() < deadline, (committed, stored)
            await restarted.poll_once()
            committed = {tp.partition: await restarted.consumer.committed(tp) for tp in partitions}
    finally:
        await restarted.stop()

    handled = crashing.results + restarted.results
    assert handled["presented"] == 6
    assert handled["response"] == 6
    assert handled["response_unmatched"] == 6, "the second copy of each response is not learned"
    assert handled["presented_known"] == 0, "no record was applied twice"
    async with db.connect() as connection:
        row = (
            await connection.execute(
                text(
                    "SELECT successes, failures FROM recommend_posteriors "
                    "WHERE segment = :s AND offer_id = 'gear-check'"
                ),
                {"s": segment},
            )
        ).one()
    assert (row.successes, row.failures) == (2, 4)
    assert sum(stored.values()) == len(events)


CONTACTS_QUERY = (
    "SELECT decision_id, offer_id, customer_id, segment, rank, holdout, channel, presented_at,"
    " outcome, outcome_at FROM recommend_contacts WHERE decision_id LIKE :prefix"
    " ORDER BY decision_id, offer_id"
)
POSTERIORS_QUERY = (
    "SELECT offer_id, successes, failures FROM recommend_posteriors WHERE segment = :s"
    " ORDER BY offer_id"
)


async def _state(engine: AsyncEngine, suffix: str, segment: str) -> tuple[list[Any], list[Any]]:
    async with engine.connect() as connection:
        contacts = await connection.execute(text(CONTACTS_QUERY), {"prefix": f"d-{suffix}-%"})
        posteriors = await connection.execute(text(POSTERIORS_QUERY), {"s": segment})
        return [tuple(row) for row in contacts], [tuple(row) for row in posteriors]


@pytest_asyncio.fixture
async def empty_database(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A second, freshly migrated database on the same server, dropped afterwards."""
    url = make_url(database_url)
    name = f"{url.database}_replay_{uuid.uuid4().hex[:6]}"
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        engine = create_engine(
            CommonSettings(
                database_url=url.set(database=name).render_as_string(hide_password=False)
            )
        )
        await run_migrations(engine)
        yield engine
        await engine.dispose()
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


async def test_replaying_the_topic_into_an_empty_database_gives_the_same_state(
    recommend_settings: RecommendSettings,
    db: AsyncEngine,
    empty_database: AsyncEngine,
    producer: AIOKafkaProducer,
) -> None:
    """The decision log is event-sourced: a new learner reading the topic from the start into
    an empty database rebuilds the same decisions, outcomes, erasures and posteriors."""
    suffix = uuid.uuid4().hex[:8]
    settings = _isolated(recommend_settings, suffix)
    await create_topics(settings)
    segment = f"seg-{suffix}"
    events = _decisions_and_responses(suffix, segment, 9)
    events.append(_event(EventType.ERASE, f"c-{suffix}-4", {"reason": "customer request"}))
    await _produce(settings, events)

    live = Learner(settings, create_session_factory(db), producer)
    await live.start()
    try:
        await drain(live)
    finally:
        await live.stop()
    replay_settings = settings.model_copy(update={"learner_group": f"{settings.learner_group}-r"})
    replay = Learner(replay_settings, create_session_factory(empty_database), producer)
    await replay.start()
    try:
        await drain(replay)
    finally:
        await replay.stop()

    original, rebuilt = (
        await _state(db, suffix, segment),
        await _state(empty_database, suffix, segment),
    )
    assert len(original[0]) == 9
    assert original[1] == [("gear-check", 3, 6)]
    assert rebuilt == original
    erased = [row for row in rebuilt[0] if row[0] == f"d-{suffix}-4"]
    assert erased[0][2] is None, "the erased customer is unlinked in the replay too"


async def test_an_undecodable_record_is_dead_lettered_not_just_logged(
    recommend_settings: RecommendSettings, db: AsyncEngine, producer: AIOKafkaProducer
) -> None:
    """A record that is not an InteractionEvent goes to the dead-letter topic with the
    learner's group in its headers; the decisions around it are learned and the stored
    position passes it, so the partition never stalls."""
    suffix = uuid.uuid4().hex[:8]
    settings = _isolated(recommend_settings, suffix).model_copy(
        update={"topic_dead_letter": f"{recommend_settings.topic_dead_letter}.learner-{suffix}"}
    )
    await create_topics(settings)
    segment = f"seg-{suffix}"
    await _produce(settings, _decisions_and_responses(suffix, segment, 2)[:3])
    await producer.send_and_wait(settings.topic_interactions, value=b"\x00not json", key=b"k")
    await _produce(settings, _decisions_and_responses(f"{suffix}b", segment, 2)[:3])

    learner = Learner(settings, create_session_factory(db), producer)
    await learner.start()
    try:
        await drain(learner)
    finally:
        await learner.stop()
    letter = await read_first_record(settings, settings.topic_dead_letter)
    headers = dict(letter.headers)
    assert letter.value == b"\x00not json"
    assert headers["dlq_reason_class"] == b"undecodable"
    assert headers["dlq_consumer_group"] == settings.learner_group.encode()
    assert learner.results["presented"] == 2
    async with db.connect() as connection:
        stored: dict[int, int] = dict(
            (await connection.execute(text(OFFSETS_QUERY), {"g": settings.learner_group})).all()
        )
    assert sum(stored.values()) == 7


async def test_a_rank_beyond_int4_is_dead_lettered_and_learning_goes_on(
    recommend_settings: RecommendSettings, db: AsyncEngine, producer: AIOKafkaProducer
) -> None:
    """An offer_presented whose rank PostgreSQL cannot store (2**40 in an integer column)
    does not stall the learner: it is dead-lettered as unstorable and the decisions after it
    are learned."""
    suffix = uuid.uuid4().hex[:8]
    settings = _isolated(recommend_settings, suffix).model_copy(
        update={"topic_dead_letter": f"{recommend_settings.topic_dead_letter}.learner-{suffix}"}
    )
    await create_topics(settings)
    segment = f"seg-{suffix}"
    huge = _decisions_and_responses(f"{suffix}h", segment, 1)[0]
    huge.payload["offers"][0]["rank"] = 2**40
    await _produce(settings, [huge, *_decisions_and_responses(suffix, segment, 3)[::3]])

    learner = Learner(settings, create_session_factory(db), producer)
    await learner.start()
    try:
        await drain(learner)
    finally:
        await learner.stop()
    letter = await read_first_record(settings, settings.topic_dead_letter)
    assert dict(letter.headers)["dlq_reason_class"] == b"unstorable"
    assert letter.value == encode_event(huge)
    assert learner.results["presented"] == 3

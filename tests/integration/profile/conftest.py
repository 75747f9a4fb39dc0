"""Profile integration fixtures: own topics and consumer group per test, on the real servers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest_asyncio
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from touchpoint_common.db.engine import create_engine, create_session_factory
from touchpoint_common.events.codec import build_headers, encode_event, encode_key
from touchpoint_common.events.models import InteractionEvent
from touchpoint_common.kafka.admin import create_topics
from touchpoint_common.kafka.producer import create_producer
from touchpoint_common.settings import CommonSettings
from touchpoint_profile.consumer.runner import ProfileConsumer
from touchpoint_profile.settings import ProfileSettings


def make_profile_settings(settings: CommonSettings, **overrides: Any) -> ProfileSettings:
    """ProfileSettings on the session's servers with this test's own topics and group."""
    suffix = uuid.uuid4().hex[:8]
    fields = settings.model_dump()
    fields.update(
        service_name="profile",
        topic_interactions=f"{settings.topic_interactions}.profile-{suffix}",
        topic_dead_letter=f"{settings.topic_dead_letter}.profile-{suffix}",
        consumer_group=f"touchpoint-profile-test-{suffix}",
        consumer_batch_timeout_ms=100,
    )
    fields.update(overrides)
    return ProfileSettings(**fields)


@pytest_asyncio.fixture
async def profile_settings(settings: CommonSettings) -> ProfileSettings:
    """Settings with fresh topics (created) and a fresh consumer group."""
    configured = make_profile_settings(settings)
    await create_topics(configured)
    return configured


@pytest_asyncio.fixture
async def engine(profile_settings: ProfileSettings) -> AsyncIterator[AsyncEngine]:
    """An engine on the session database."""
    created = create_engine(profile_settings)
    yield created
    await created.dispose()


@pytest_asyncio.fixture
async def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Session factory on the session database."""
    return create_session_factory(engine)


@pytest_asyncio.fixture
async def producer(profile_settings: ProfileSettings) -> AsyncIterator[AIOKafkaProducer]:
    """An idempotent producer on the real broker."""
    started = create_producer(profile_settings)
    await started.start()
    yield started
    await started.stop()


Produce = Callable[[list[InteractionEvent]], Awaitable[None]]


@pytest_asyncio.fixture
async def produce(producer: AIOKafkaProducer, profile_settings: ProfileSettings) -> Produce:
    """Write events to the test's interactions topic as ingest does (key, value, headers)."""

    async def send(events: list[InteractionEvent]) -> None:
        for event in events:
            await producer.send_and_wait(
                profile_settings.topic_interactions,
                key=encode_key(event),
                value=encode_event(event),
                headers=build_headers(event),
            )

    return send


async def wait_assigned(consumer: ProfileConsumer, partitions: int, timeout_s: float = 30) -> None:
    """Poll until the group gave this consumer its partitions (and it sought them)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while len(consumer.positions) < partitions:
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("no partition assignment")
        await consumer.poll_once()

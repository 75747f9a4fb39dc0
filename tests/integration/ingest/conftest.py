"""The ingest app in-process on the session's real broker and database, plus a topic reader."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from tests.integration.keys import TILL_SCOPES, all_scopes_headers, bearer, create_token
from touchpoint_common.settings import CommonSettings
from touchpoint_ingest.main import create_app
from touchpoint_ingest.settings import IngestSettings


def make_ingest_settings(settings: CommonSettings, **overrides: Any) -> IngestSettings:
    """IngestSettings on the session's servers and topics, with a short broker deadline."""
    fields = settings.model_dump()
    fields.update(service_name="ingest", produce_timeout_s=3.0, retry_after_s=2)
    fields.update(overrides)
    return IngestSettings(**fields)


class TopicReader:
    """Reads a topic from the beginning up to its current end, remembering every record."""

    def __init__(self, bootstrap: str, topic: str, partitions: int) -> None:
        self.topic = topic
        self.partitions = [TopicPartition(topic, p) for p in range(partitions)]
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
        )
        self.records: list[ConsumerRecord[bytes, bytes]] = []

    async def start(self) -> None:
        await self.consumer.start()
        self.consumer.assign(self.partitions)
        await self.consumer.seek_to_beginning(*self.partitions)

    async def catch_up(self, timeout_s: float = 20.0) -> list[ConsumerRecord[bytes, bytes]]:
        """Everything written so far (the end offsets taken now), in arrival order."""
        ends = await self.consumer.end_offsets(self.partitions)
        deadline = asyncio.get_running_loop().time() + timeout_s
        while await self._behind(ends):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("topic reader did not reach the end offsets")
            batches = await self.consumer.getmany(timeout_ms=500)
            for batch in batches.values():
                self.records.extend(batch)
        return self.records

    async def _behind(self, ends: dict[TopicPartition, int]) -> bool:
        for tp, end in ends.items():
            if await self.consumer.position(tp) < end:
                return True
        return False

    async def with_event_id(self, event_id: str) -> list[ConsumerRecord[bytes, bytes]]:
        """Every copy of one event in the topic."""
        await self.catch_up()
        return [r for r in self.records if dict(r.headers).get("event_id") == event_id.encode()]

    async def stop(self) -> None:
        await self.consumer.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def ingest_settings(settings: CommonSettings) -> IngestSettings:
    """Ingest settings for the shared in-process app."""
    return make_ingest_settings(settings)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def ingest_app(ingest_settings: IngestSettings) -> AsyncIterator[FastAPI]:
    """One ingest app for the session, started (lifespan) against the real servers."""
    app = create_app(ingest_settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30):
        yield app


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def client(ingest_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the in-process app with a key holding every scope."""
    transport = httpx.ASGITransport(app=ingest_app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://ingest",
        headers=await all_scopes_headers(ingest_app.state.runtime.settings),
    ) as http:
        yield http


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def till_client(ingest_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client with a till's key: events:write and offers:respond, no identity:link."""
    database_url = ingest_app.state.runtime.settings.database_url
    till = await create_token(database_url, TILL_SCOPES, name="test-till")
    transport = httpx.ASGITransport(app=ingest_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://ingest", headers=bearer(till)
    ) as http:
        yield http


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def topic(ingest_settings: IngestSettings) -> AsyncIterator[TopicReader]:
    """A reader of the session's interactions topic."""
    reader = TopicReader(
        ingest_settings.kafka_bootstrap,
        ingest_settings.topic_interactions,
        ingest_settings.topic_partitions,
    )
    await reader.start()
    yield reader
    await reader.stop()

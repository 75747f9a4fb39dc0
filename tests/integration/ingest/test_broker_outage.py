"""With the broker stopped: 503 + Retry-After, never a 2xx; once it is back, nothing is lost."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from tests.integration.ingest.conftest import TopicReader, make_ingest_settings
from tests.integration.ingest.test_events_api import fresh, unique_phone
from tests.integration.keys import all_scopes_headers
from touchpoint_common.settings import CommonSettings
from touchpoint_devtools.devservers import LocalKafka
from touchpoint_ingest.main import create_app

pytestmark = pytest.mark.integration


async def test_broker_down_gives_503_and_nothing_accepted_is_lost(
    settings: CommonSettings, own_kafka: Callable[[], LocalKafka]
) -> None:
    """Accepted before, refused (503) during, accepted after: every 202 is in the topic.

    The sends that missed their deadline are still retried by the producer; the client's
    retries of those events wait for them instead of writing a second copy.
    """
    broker = await asyncio.to_thread(own_kafka)
    ingest_settings = make_ingest_settings(
        settings, kafka_bootstrap=broker.bootstrap, produce_timeout_s=2.0, retry_after_s=3
    )
    app = create_app(ingest_settings)
    accepted: list[str] = []
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=60),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://t",
            headers=await all_scopes_headers(settings),
        ) as client,
    ):
        phone = unique_phone()
        for _ in range(5):
            event = fresh("call", phone=phone)
            response = await client.post("/v1/events", json=event)
            assert response.status_code == 202, response.text
            accepted.append(event["event_id"])

        await asyncio.to_thread(broker.stop)
        refused: list[dict[str, Any]] = []
        for _ in range(3):
            event = fresh("call", phone=phone)
            response = await client.post("/v1/events", json=event)
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"] == "3"
            refused.append(event)
        batch = [fresh("page_view", phone=phone) for _ in range(3)]
        response = await client.post("/v1/events/batch", json={"events": batch})
        assert response.status_code == 503
        assert response.headers["retry-after"] == "3"
        assert response.json()["accepted"] == 0
        assert {r["status"] for r in response.json()["results"]} == {"unavailable"}
        refused.extend(batch)

        await asyncio.to_thread(broker.start)
        deadline = asyncio.get_running_loop().time() + 90
        pending = list(refused)
        while pending:  # a client retrying after Retry-After, as the contract asks
            assert asyncio.get_running_loop().time() < deadline, "API did not recover"
            event = pending[0]
            response = await client.post("/v1/events", json=event)
            if response.status_code == 202:
                accepted.append(event["event_id"])
                pending.pop(0)
            else:
                assert response.status_code in (503, 409), response.text
                await asyncio.sleep(1)

    reader = TopicReader(broker.bootstrap, ingest_settings.topic_interactions, 3)
    await reader.start()
    try:
        records = await reader.catch_up(timeout_s=60)
    finally:
        await reader.stop()
    written = [dict(r.headers)["event_id"].decode() for r in records]
    assert set(accepted) <= set(written), "an event answered 202 is missing from Kafka"
    assert len(set(accepted)) == 5 + len(refused)
    assert len(written) == len(set(written)), "a retry wrote a second copy"


async def test_database_unreachable_gives_503_and_nothing_is_produced(
    settings: CommonSettings, topic: TopicReader
) -> None:
    """Without the identity database no customer can be resolved: 503 + Retry-After, no record."""
    app = create_app(make_ingest_settings(settings, retry_after_s=4))
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=60),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://t",
            headers=await all_scopes_headers(settings),
        ) as client,
    ):
        dead = create_async_engine(
            "postgresql+asyncpg://nobody:nothing@127.0.0.1:1/none", pool_timeout=2
        )
        app.state.ingest.sessions = async_sessionmaker(dead)
        event = fresh("call", phone=unique_phone())
        response = await client.post("/v1/events", json=event)
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "4"
        batch = await client.post("/v1/events/batch", json={"events": [fresh("page_view")]})
        assert batch.status_code == 503
        await dead.dispose()
    assert await topic.with_event_id(event["event_id"]) == []

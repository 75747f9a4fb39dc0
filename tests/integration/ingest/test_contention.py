"""Many concurrent requests over shared identifiers: no deadlock in PostgreSQL, one owner each."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.integration.ingest.conftest import TopicReader
from tests.integration.ingest.test_events_api import fresh, unique_phone
from touchpoint_common.events.codec import decode_event
from touchpoint_common.identity.store import KIND_PRIORITY, Identifier
from touchpoint_ingest.events.validation import Rules, ValidEvent, validate_event

pytestmark = pytest.mark.integration

REQUESTS = 64
IN_FLIGHT = 16
PEOPLE = 40
WINDOW = 6


def _person() -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    return {
        "loyalty_id": f"L-{tag}",
        "phone": unique_phone(),
        "email": f"p.{tag}@example.com",
        "anonymous_id": f"web-{tag}",
    }


def _event(rng: random.Random, people: list[dict[str, str]]) -> dict[str, Any]:
    """An event naming 1-3 identifiers of one person, in a random order."""
    person = rng.choice(people)
    kinds = rng.sample(sorted(person), rng.randint(2, 3))
    kind = rng.choice(["purchase", "call", "page_view", "store_visit"])
    return fresh(kind, **{k: person[k] for k in kinds})


def _strongest(identifiers: tuple[Identifier, ...]) -> Identifier:
    return min(identifiers, key=lambda ident: KIND_PRIORITY.index(ident.kind))


async def _deadlocks(sessions: async_sessionmaker[AsyncSession]) -> int:
    """pg_stat_database.deadlocks of this database, read afresh (stats snapshot cleared)."""
    async with sessions() as session:
        await session.execute(text("SELECT pg_stat_clear_snapshot()"))
        count = await session.scalar(
            text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        )
    return int(count or 0)


async def _deadlocks_settled(sessions: async_sessionmaker[AsyncSession], before: int) -> int:
    """The count once every backend has flushed its statistics (they do so on exit)."""
    engine: AsyncEngine = sessions.kw["bind"]
    await engine.dispose()  # closes the pool's connections: exiting backends flush their stats
    count = before
    for _ in range(30):
        await asyncio.sleep(0.1)
        count = await _deadlocks(sessions)
        if count > before:
            break
    return count


async def test_concurrent_requests_over_shared_identifiers_never_deadlock(
    client: httpx.AsyncClient, topic: TopicReader, ingest_app: Any
) -> None:
    """64 requests, 16 in flight, over forty people's phones, loyalty ids, e-mails and web ids
    (some people known beforehand, some new, single events mixed with batches): PostgreSQL
    detects no deadlock, every event is accepted, and each lands on the customer that now owns
    its strongest identifier, each identifier having exactly one owner."""
    rng = random.Random(20261123)
    sessions: async_sessionmaker[AsyncSession] = ingest_app.state.ingest.sessions
    rules: Rules = ingest_app.state.ingest.rules
    people = [_person() for _ in range(PEOPLE)]
    for person in people[::5]:  # known customers: their loyalty id only
        response = await client.post(
            "/v1/events", json=fresh("membership", loyalty_id=person["loyalty_id"])
        )
        assert response.status_code == 202, response.text
    # A sliding window of people, so requests in flight together meet identifiers new to all.
    requests: list[list[dict[str, Any]]] = [
        [_event(rng, people[n // 2 : n // 2 + WINDOW]) for _ in range(4 if n % 2 == 0 else 1)]
        for n in range(REQUESTS)
    ]
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def send(events: list[dict[str, Any]]) -> httpx.Response:
        async with gate:
            # Staggered arrivals, so the accept workers run several passes at once.
            await asyncio.sleep(rng.uniform(0, 0.03))
            if len(events) == 1:
                return await client.post("/v1/events", json=events[0])
            return await client.post("/v1/events/batch", json={"events": events})

    before = await _deadlocks(sessions)
    responses = await asyncio.gather(*(send(events) for events in requests))
    after = await _deadlocks_settled(sessions, before)

    for events, response in zip(requests, responses, strict=True):
        if len(events) == 1:
            assert response.status_code == 202, response.text
        else:
            assert response.status_code == 200, response.text
            assert [r["status"] for r in response.json()["results"]] == ["accepted"] * len(events)
    assert after == before, f"{after - before} deadlock(s) detected by PostgreSQL"

    now = datetime.now(UTC)
    posted = [event for events in requests for event in events]
    by_event_id: dict[str, list[Any]] = {}
    for record in await topic.catch_up():
        by_event_id.setdefault(dict(record.headers)["event_id"].decode(), []).append(record)
    async with sessions() as session:
        for event in posted:
            valid = validate_event(event, now=now, rules=rules)
            assert isinstance(valid, ValidEvent)
            [record] = by_event_id[event["event_id"]]
            wire = decode_event(record.value)
            owners = {}
            for ident in valid.customer.identifiers:
                rows = (
                    await session.execute(
                        text(
                            "SELECT customer_id FROM customer_identifiers "
                            "WHERE kind = :kind AND digest = :digest"
                        ),
                        {"kind": ident.kind, "digest": ident.digest},
                    )
                ).all()
                assert len(rows) == 1
                owners[ident.key] = rows[0].customer_id
            assert wire.customer_id == owners[_strongest(valid.customer.identifiers).key]

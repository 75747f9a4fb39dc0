"""With its broker stopped, recommend still decides: the decision and its offer_presented event
are committed together (transactional outbox) and the relay sends the event once the broker is
back, once in effect (one event id)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.keys import all_scopes_headers
from tests.integration.recommend.conftest import (
    event,
    new_loyalty_id,
    post_event,
    read_topic,
    wait_until,
)
from touchpoint_devtools.devservers import LocalKafka
from touchpoint_recommend.main import create_app
from touchpoint_recommend.settings import RecommendSettings

pytestmark = pytest.mark.integration


async def count_decisions(db: AsyncEngine, customer_id: str) -> int:
    """How many decisions PostgreSQL holds for this customer."""
    async with db.connect() as connection:
        rows = await connection.execute(
            text("SELECT count(*) FROM recommend_decisions WHERE customer_id = :c"),
            {"c": customer_id},
        )
        return int(rows.scalar_one())


async def count_owed(db: AsyncEngine, decision_id: str) -> int:
    """Outbox rows of this decision's event not yet marked sent."""
    async with db.connect() as connection:
        owed = await connection.scalar(
            text(
                "SELECT count(*) FROM kafka_outbox WHERE sent_at IS NULL "
                "AND convert_from(record_value, 'UTF8')::jsonb->'payload'->>'decision_id' = :d"
            ),
            {"d": decision_id},
        )
    return int(owed or 0)


async def presented_event_ids(
    settings: RecommendSettings, bootstrap: str, decision_id: str
) -> list[str]:
    """The event ids of every offer_presented record of this decision on the topic."""
    records = await read_topic(
        bootstrap, settings.topic_interactions, partitions=settings.topic_partitions
    )
    return [
        dict(record.headers)["event_id"].decode()
        for record in records
        if dict(record.headers).get("event_type") == b"offer_presented"
        and orjson.loads(record.value)["payload"]["decision_id"] == decision_id
    ]


async def test_a_decision_made_while_the_broker_is_down_is_published_once_it_is_back(
    apps: dict[str, httpx.AsyncClient],
    db: AsyncEngine,
    recommend_settings: RecommendSettings,
    own_kafka: Callable[[], LocalKafka],
) -> None:
    """With the broker up a decision is answered and its event reaches the topic; with the
    broker stopped the next decision is still answered (200, recorded, event owed in the
    outbox, not waiting for the broker); once the broker is back the relay sends it, and the
    topic holds it under one event id (duplicates, if any, share it: consumers dedupe)."""
    loyalty_id = new_loyalty_id()
    await post_event(apps, event("membership", loyalty_id, {"action": "joined", "tier": "silver"}))
    broker = await asyncio.to_thread(own_kafka)
    fields: dict[str, Any] = {
        **recommend_settings.model_dump(),
        "kafka_bootstrap": broker.bootstrap,
        "learner_enabled": False,
        "recommend_config_poll_s": 0,
        "recommend_produce_timeout_s": 1.5,
        "recommend_outbox_poll_s": 0.2,
        # Its rows are owed to this private broker: no relay of the session's apps sends them.
        "recommend_outbox_scope": f"outage-{uuid.uuid4().hex[:8]}",
    }
    settings = RecommendSettings(**fields)
    app = create_app(settings)
    params = {"loyalty_id": loyalty_id, "channel": "pos"}
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=60),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://r",
            headers=await all_scopes_headers(recommend_settings),
        ) as client,
    ):
        up = await client.get("/v1/customers/lookup/next-offers", params=params)
        assert up.status_code == 200, up.text
        assert up.json()["event_logged"] is True
        customer_id = up.json()["customer_id"]
        assert await count_decisions(db, customer_id) == 1

        async def sent_up() -> bool:
            ids = await presented_event_ids(settings, broker.bootstrap, up.json()["decision_id"])
            return len(ids) >= 1

        await wait_until(sent_up, what="the first decision's offer_presented on the topic")

        await asyncio.to_thread(broker.stop)
        down = await client.get("/v1/customers/lookup/next-offers", params=params)
        assert down.status_code == 200, down.text
        assert down.json()["event_logged"] is True
        decision_id = down.json()["decision_id"]
        assert await count_decisions(db, customer_id) == 2
        assert await count_owed(db, decision_id) == 1

        await asyncio.to_thread(broker.start)

        async def sent_down() -> bool:
            ids = await presented_event_ids(settings, broker.bootstrap, decision_id)
            return len(ids) >= 1

        await wait_until(sent_down, what="the outage decision's offer_presented", timeout_s=90)
        ids = await presented_event_ids(settings, broker.bootstrap, decision_id)
        assert len(set(ids)) == 1, ids

        async def marked() -> bool:
            return await count_owed(db, decision_id) == 0

        await wait_until(marked, what="the outbox row marked sent")

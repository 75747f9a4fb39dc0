"""With its broker stopped, recommend cannot log a decision in time: 503, and nothing recorded."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.keys import all_scopes_headers
from tests.integration.recommend.conftest import event, new_loyalty_id, post_event
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


async def test_broker_down_gives_503_and_the_decision_is_rolled_back(
    apps: dict[str, httpx.AsyncClient],
    db: AsyncEngine,
    recommend_settings: RecommendSettings,
    own_kafka: Callable[[], LocalKafka],
) -> None:
    """A decision is answered only once its offer_presented event is acknowledged: with the
    broker up it is (200, event_logged), with the broker stopped the publisher's deadline
    passes and the answer is 503 + Retry-After, with no decision left in PostgreSQL."""
    loyalty_id = new_loyalty_id()
    await post_event(apps, event("membership", loyalty_id, {"action": "joined", "tier": "silver"}))
    broker = await asyncio.to_thread(own_kafka)
    fields: dict[str, Any] = {
        **recommend_settings.model_dump(),
        "kafka_bootstrap": broker.bootstrap,
        "learner_enabled": False,
        "recommend_config_poll_s": 0,
        "recommend_produce_timeout_s": 1.5,
    }
    app = create_app(RecommendSettings(**fields))
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

        await asyncio.to_thread(broker.stop)
        down = await client.get("/v1/customers/lookup/next-offers", params=params)
        assert down.status_code == 503, down.text
        assert down.headers["retry-after"] == "2"
        assert "broker unavailable" in down.json()["detail"]
        assert await count_decisions(db, customer_id) == 1
        # The refused decision's send is still pending: let it finish so the producer can stop.
        await asyncio.to_thread(broker.start)

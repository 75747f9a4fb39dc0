"""Ingest, profile and recommend in-process on the session's real broker and database."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.keys import TILL_SCOPES, all_scopes_headers, bearer, create_token
from touchpoint_common.db.engine import create_engine
from touchpoint_common.settings import CommonSettings
from touchpoint_ingest.main import create_app as create_ingest_app
from touchpoint_ingest.settings import IngestSettings
from touchpoint_profile.main import create_app as create_profile_app
from touchpoint_profile.settings import ProfileSettings
from touchpoint_recommend.loader import DEFAULT_CONFIG_PATH
from touchpoint_recommend.main import create_app as create_recommend_app
from touchpoint_recommend.settings import RecommendSettings

Check = Callable[[], Awaitable[bool]]


def _fields(settings: CommonSettings, **overrides: Any) -> dict[str, Any]:
    fields = settings.model_dump()
    fields.update(overrides)
    return fields


@pytest.fixture(scope="session")
def recommend_config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the default config that seeds the stored config (never written by the app)."""
    path = tmp_path_factory.mktemp("recommend") / "recommend.yaml"
    shutil.copyfile(DEFAULT_CONFIG_PATH, path)
    return path


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def recommend_settings(
    settings: CommonSettings, recommend_config_path: Path
) -> RecommendSettings:
    """Recommend on the session servers; holdout off so each test sees the learned arm."""
    return RecommendSettings(
        **_fields(
            settings,
            service_name="recommend",
            recommend_config_path=recommend_config_path,
            recommend_config_poll_s=0.2,
            recommend_seed=1234,
            learner_batch_timeout_ms=100,
        )
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def apps(
    settings: CommonSettings, recommend_settings: RecommendSettings
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """Ingest (POST events; "till" without identity:link), profile (live fold) and recommend,
    each started by its lifespan."""
    ingest = create_ingest_app(IngestSettings(**_fields(settings, service_name="ingest")))
    profile = create_profile_app(
        ProfileSettings(**_fields(settings, service_name="profile", consumer_batch_timeout_ms=100))
    )
    recommend = create_recommend_app(recommend_settings)
    async with (
        LifespanManager(ingest, startup_timeout=60, shutdown_timeout=30),
        LifespanManager(profile, startup_timeout=60, shutdown_timeout=30),
        LifespanManager(recommend, startup_timeout=60, shutdown_timeout=30),
    ):
        # "ingest" posts with every scope (the web login, the CRM), "till" with a till's key
        headers = await all_scopes_headers(settings)
        till = bearer(await create_token(settings.database_url, TILL_SCOPES, name="test-till"))
        clients = {
            name: httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url=f"http://{name}", headers=keys
            )
            for name, app, keys in (
                ("ingest", ingest, headers),
                ("till", ingest, till),
                ("profile", profile, headers),
                ("recommend", recommend, headers),
            )
        }
        try:
            yield clients
        finally:
            for client in clients.values():
                await client.aclose()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def db(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the session database, for checking what the services wrote."""
    engine = create_engine(CommonSettings(database_url=database_url))
    yield engine
    await engine.dispose()


async def wait_until(check: Check, *, what: str, timeout_s: float = 30.0) -> None:
    """Poll `check` until true; fail naming `what` after the timeout."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def new_loyalty_id() -> str:
    """A loyalty id nobody has used."""
    return f"L-{uuid.uuid4().hex[:12]}"


def event(
    kind: str, loyalty_id: str, payload: dict[str, Any], channel: str = "pos"
) -> dict[str, Any]:
    """An EventIn body as a till or agent screen posts it."""
    return {
        "event_id": str(uuid.uuid4()),
        "type": kind,
        "channel": channel,
        "occurred_at": datetime.now(UTC).isoformat(),
        "customer": {"loyalty_id": loyalty_id},
        "store_id": "12",
        "payload": payload,
    }


def purchase(category: str, amount: Decimal = Decimal("120.00")) -> dict[str, Any]:
    """A one-item purchase payload."""
    return {
        "order_id": f"o-{uuid.uuid4().hex[:8]}",
        "amount": str(amount),
        "currency": "CNY",
        "items": [{"sku": "sku-1", "category": category, "quantity": 1, "unit_price": str(amount)}],
    }


async def post_event(apps: dict[str, httpx.AsyncClient], body: dict[str, Any]) -> None:
    """POST through ingest; the event is in Kafka when this returns."""
    response = await apps["ingest"].post("/v1/events", json=body)
    assert response.status_code == 202, response.text


async def customer_id_of(db: AsyncEngine, decision_id: str) -> str | None:
    """The customer a recorded decision was for."""
    async with db.connect() as connection:
        row = await connection.execute(
            text("SELECT customer_id FROM recommend_decisions WHERE decision_id = :d"),
            {"d": decision_id},
        )
        return row.scalar_one_or_none()


async def read_topic(
    bootstrap: str, topic: str, *, partitions: int, timeout_s: float = 20.0
) -> list[Any]:
    """Every record of the topic up to its current end (partition count given: no metadata)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        assigned = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        records: list[Any] = []
        while any([await consumer.position(tp) < end for tp, end in ends.items()]):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("could not read the topic to its end")
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def profile_view(
    apps: dict[str, httpx.AsyncClient], loyalty_id: str
) -> dict[str, Any] | None:
    """The profile's live view by loyalty id, None while unknown."""
    response = await apps["profile"].get("/v1/customers/lookup", params={"loyalty_id": loyalty_id})
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


async def next_offers(
    apps: dict[str, httpx.AsyncClient], loyalty_id: str, channel: str = "pos", **params: Any
) -> dict[str, Any]:
    """GET next offers by loyalty id; asserts 200."""
    response = await apps["recommend"].get(
        "/v1/customers/lookup/next-offers",
        params={"loyalty_id": loyalty_id, "channel": channel, **params},
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


DECISION_CHANNELS = ("pos", "call_centre", "web")


def consent(purpose: str, covers: str, status: str) -> dict[str, Any]:
    """A consent payload, as a till's preferences screen captures it."""
    return {"purpose": purpose, "channel": covers, "status": status, "source": "till-form"}


async def new_member(
    apps: dict[str, httpx.AsyncClient],
    category: str = "outdoor",
    *,
    opted_in: tuple[str, ...] = DECISION_CHANNELS,
) -> str:
    """A member with one purchase in `category`, opted in to marketing and profiling on the
    `opted_in` channels, visible in the profile view; its loyalty id."""
    loyalty_id = new_loyalty_id()
    await post_event(apps, event("membership", loyalty_id, {"action": "joined", "tier": "silver"}))
    for covers in opted_in:
        for purpose in ("marketing", "profiling"):
            await post_event(
                apps, event("consent", loyalty_id, consent(purpose, covers, "granted"))
            )
    await post_event(apps, event("purchase", loyalty_id, purchase(category)))

    async def folded() -> bool:
        view = await profile_view(apps, loyalty_id)
        return bool(view and view["member"] and view["rfm"]["frequency"] >= 1)

    await wait_until(folded, what="the profile to fold the new member")
    return loyalty_id

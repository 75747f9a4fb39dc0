"""The profile API in-process with its consumer, on the real broker and database."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.keys import all_scopes_headers
from tests.integration.profile.conftest import Produce
from tests.unit.profile.factories import purchase_payload, wire_event
from touchpoint_common.identity.store import make_identifier, resolve_customer
from touchpoint_profile.main import create_app
from touchpoint_profile.settings import ProfileSettings

pytestmark = pytest.mark.integration


def random_cn_mobile() -> str:
    """A valid Chinese mobile number written with spaces: +86 139 xxxx xxxx."""
    digits = f"{random.randrange(10**8):08d}"
    return f"+86 139 {digits[:4]} {digits[4:]}"


async def mint_customer(
    sessions: async_sessionmaker[AsyncSession], settings: ProfileSettings, phone: str
) -> str:
    """A customer known by this phone in the identity tables, as ingest would create it."""
    ident = make_identifier(
        "phone",
        phone,
        hmac_key=settings.identifier_hmac_key(),
        default_region=settings.default_phone_region,
    )
    async with sessions() as session, session.begin():
        resolved = await resolve_customer(
            db_session=session,
            identifiers=[ident],
            kek=settings.kek_ring(),
        )
    return resolved.customer_id


@asynccontextmanager
async def serve(settings: ProfileSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The profile app with its lifespan (runtime + consumer) behind an in-process client."""
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://profile",
            headers=await all_scopes_headers(settings),
        ) as client:
            yield client


async def eventually(
    probe: Callable[[], Awaitable[httpx.Response]],
    accept: Callable[[httpx.Response], bool],
    timeout_s: float = 30,
) -> httpx.Response:
    """Call probe until accept(response) or time out."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        response = await probe()
        if accept(response):
            return response
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"never accepted: {response.status_code} {response.text[:300]}")
        await asyncio.sleep(0.2)


def purchase_now(customer_id: str, *, hours_ago: float = 1, amount: str = "128.50") -> Any:
    """A POS purchase at store 12."""
    at = datetime.now(UTC) - timedelta(hours=hours_ago)
    payload = purchase_payload(amount, quantity=3)
    return wire_event("purchase", payload, at=at, customer_id=customer_id, store_id="12")


async def test_lookup_by_phone_written_another_way_shows_the_masked_view(
    profile_settings: ProfileSettings,
    sessions: async_sessionmaker[AsyncSession],
    produce: Produce,
) -> None:
    """The call centre types the phone differently than it was posted and finds the customer."""
    phone = random_cn_mobile()
    customer_id = await mint_customer(sessions, profile_settings, phone)
    await produce([purchase_now(customer_id)])
    national = phone.removeprefix("+86 ").replace(" ", "-")
    async with serve(profile_settings) as client:
        response = await eventually(
            lambda: client.get("/v1/customers/lookup", params={"phone": national}),
            lambda r: r.status_code == 200,
        )
        view = response.json()
        assert view["customer_id"] == customer_id
        assert view["rfm"]["frequency"] == 1
        assert view["rfm"]["monetary"] == "128.50"
        assert view["identifiers"] == [{"kind": "phone", "masked": f"+86 139****{phone[-4:]}"}]
        assert phone.replace(" ", "")[3:] not in response.text
        assert view["timeline"][0]["line"] == "POS purchase 3 items 128.50 CNY, store 12"

        by_id = await client.get(f"/v1/customers/{customer_id}")
        assert by_id.json()["rfm"] == view["rfm"]
        later = (datetime.now(UTC) + timedelta(days=10)).isoformat()
        aged = await client.get(f"/v1/customers/{customer_id}", params={"as_of": later})
        assert aged.json()["rfm"]["recency_days"] == 10
        timeline = await client.get(f"/v1/customers/{customer_id}/timeline", params={"limit": 1})
        assert len(timeline.json()["timeline"]) == 1

        malformed = await client.get("/v1/customers/lookup", params={"phone": "12"})
        assert malformed.status_code == 422
        assert malformed.json()["detail"][0]["loc"] == ["query", "phone"]
        unknown = await client.get("/v1/customers/lookup", params={"phone": random_cn_mobile()})
        assert unknown.status_code == 404
        nothing = await client.get("/v1/customers/lookup")
        assert nothing.status_code == 422
        missing = await client.get("/v1/customers/no-such-customer")
        assert missing.status_code == 404


async def test_erase_shreds_identity_and_projection_and_stays_erased(
    profile_settings: ProfileSettings,
    sessions: async_sessionmaker[AsyncSession],
    produce: Produce,
) -> None:
    """erase deletes identifiers and key, marks erased_at, tombstones the view; it stays gone."""
    phone = random_cn_mobile()
    customer_id = await mint_customer(sessions, profile_settings, phone)
    await produce([purchase_now(customer_id, hours_ago=3)])
    async with serve(profile_settings) as client:
        await eventually(
            lambda: client.get(f"/v1/customers/{customer_id}"), lambda r: r.status_code == 200
        )
        erase = wire_event(
            "erase",
            {"reason": "customer request"},
            at=datetime.now(UTC) - timedelta(hours=2),
            customer_id=customer_id,
        )
        await produce([erase])
        await eventually(
            lambda: client.get(f"/v1/customers/{customer_id}"), lambda r: r.status_code == 404
        )
        await produce([purchase_now(customer_id, hours_ago=1)])
        lookup = await client.get("/v1/customers/lookup", params={"phone": phone})
        assert lookup.status_code == 404
        async with sessions() as session:
            await eventually_offsets_reach(session, profile_settings, 3)
        assert (await client.get(f"/v1/customers/{customer_id}")).status_code == 404
    async with sessions() as session:
        params = {"id": customer_id}
        identifiers = await session.scalar(
            text("SELECT count(*) FROM customer_identifiers WHERE customer_id = :id"), params
        )
        keys = await session.scalar(
            text("SELECT count(*) FROM customer_keys WHERE customer_id = :id"), params
        )
        erased_at = await session.scalar(
            text("SELECT erased_at FROM customers WHERE customer_id = :id"), params
        )
        row = (
            await session.execute(
                text("SELECT erased, state FROM profile_customers WHERE customer_id = :id"),
                params,
            )
        ).one()
    assert (identifiers, keys) == (0, 0)
    assert erased_at is not None
    assert row.erased is True
    # the stored JSON leaves out empty containers: a tombstone is its id and erasure time
    assert row.state.get("timeline", []) == []
    assert row.state.get("days", {}) == {}
    assert set(row.state) == {"customer_id", "erased_at"}


async def eventually_offsets_reach(
    session: AsyncSession, settings: ProfileSettings, total: int, timeout_s: float = 30
) -> None:
    """Wait until the consumer committed `total` records of the test topic."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    query = text(
        "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets "
        "WHERE group_id = :group AND topic = :topic"
    )
    params = {"group": settings.consumer_group, "topic": settings.topic_interactions}
    while (await session.scalar(query, params)) < total:
        await session.rollback()
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("consumer did not reach the offsets")
        await asyncio.sleep(0.2)


async def test_an_exhausted_database_pool_is_a_503_with_retry_after(
    profile_settings: ProfileSettings,
) -> None:
    """When every pooled connection is busy past the pool timeout, a read is answered 503 with
    Retry-After by the one error policy (an outage), never a 500 (make chaos saw 500s)."""
    settings = profile_settings.model_copy(
        update={"database_pool_size": 1, "consumer_enabled": False}
    )
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        headers = await all_scopes_headers(settings)
        engine = app.state.runtime.engine
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://p", headers=headers) as client,
            contextlib.AsyncExitStack() as held,
        ):
            await client.get("/v1/customers/anyone")  # the key is checked and cached first
            capacity = 2 * settings.database_pool_size  # pool size plus as many overflow
            while engine.pool.checkedout() < capacity:
                await held.enter_async_context(engine.connect())
            response = await client.get("/v1/customers/anyone")
        assert response.status_code == 503, response.text
        assert int(response.headers["Retry-After"]) > 0
        assert response.json()["detail"] == "database unavailable, try again"

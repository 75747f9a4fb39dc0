"""Rebuild on the real broker and database: same view as the live fold, swapped in safely."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.profile.conftest import Produce
from tests.integration.records import drain
from tests.unit.profile.factories import purchase_payload, wire_event
from touchpoint_common.events.models import InteractionEvent
from touchpoint_profile.consumer.runner import ProfileConsumer, get_window_start
from touchpoint_profile.customers.service import get_customer_view
from touchpoint_profile.rebuild.service import Rebuilder
from touchpoint_profile.settings import ProfileSettings

pytestmark = pytest.mark.integration


def history(customer_id: str, seed: int) -> list[InteractionEvent]:
    """A varied recent history: purchases, a return, page views, a complaint, offers."""
    now = datetime.now(UTC)

    def at(hours: float) -> dict[str, Any]:
        return {"at": now - timedelta(hours=hours), "customer_id": customer_id}

    return [
        wire_event("membership", {"action": "joined", "tier": "gold"}, **at(300)),
        *[
            wire_event("purchase", purchase_payload(f"{40 + seed}.00", category=c), **at(h))
            for h, c in ((200, "tents"), (90, "shoes"), (5 + seed, "tents"))
        ],
        wire_event("return", {"order_id": "o", "amount": "15.00", "currency": "CNY"}, **at(4)),
        wire_event("page_view", {"url": "https://x/1", "category": "bags"}, channel="web", **at(3)),
        wire_event(
            "complaint",
            {"complaint_id": f"K{seed}", "category": "delivery", "severity": "high"},
            channel="call_centre",
            **at(2),
        ),
        wire_event(
            "offer_presented",
            {
                "decision_id": f"d{seed}",
                "segment": "s",
                "strategy": "x",
                "offers": [{"offer_id": "o1", "rank": 1, "score": 0.4, "kind": "perk"}],
            },
            **at(1.5),
        ),
        wire_event(
            "offer_response",
            {"decision_id": f"d{seed}", "offer_id": "o1", "outcome": "accepted"},
            **at(1),
        ),
    ]


async def views(
    sessions: async_sessionmaker[AsyncSession],
    settings: ProfileSettings,
    customers: list[str],
    as_of: datetime,
) -> dict[str, Any]:
    """Every customer's view at one moment, as plain data (None when unknown or erased)."""
    result: dict[str, Any] = {}
    async with sessions() as session:
        for customer_id in customers:
            view = await get_customer_view(
                db_session=session, customer_id=customer_id, now=as_of, settings=settings
            )
            result[customer_id] = None if view is None else view.model_dump(mode="json")
    return result


async def test_rebuild_gives_the_live_view_and_the_live_fold_goes_on_exactly(
    profile_settings: ProfileSettings,
    sessions: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
    produce: Produce,
) -> None:
    """Replay from the window start equals the live fold; later events still count once."""
    customers = [f"rb-{uuid.uuid4().hex[:6]}" for _ in range(4)]
    for seed, customer_id in enumerate(customers):
        await produce(history(customer_id, seed))
    erase = wire_event("erase", {"reason": "asked"}, at=datetime.now(UTC), customer_id=customers[3])
    await produce([erase])
    await producer.send_and_wait(
        profile_settings.topic_interactions, key=b"x", value=b"not json at all"
    )
    live = ProfileConsumer(profile_settings, sessions=sessions, producer=producer)
    await live.start()
    try:
        await drain(live)
        as_of = datetime.now(UTC) + timedelta(hours=1)
        before = await views(sessions, profile_settings, customers, as_of)
        assert before[customers[3]] is None
        assert before[customers[0]]["rfm"]["frequency"] == 3

        # Written while the live consumer is not polling: the rebuild reads past its offsets.
        late = wire_event(
            "purchase", purchase_payload("7.00"), at=datetime.now(UTC), customer_id=customers[0]
        )
        await produce([late])
        expected_after = await views(sessions, profile_settings, customers, as_of)

        rebuilder = Rebuilder(profile_settings, sessions=sessions)
        since = get_window_start(profile_settings, datetime.now(UTC))
        report = await rebuilder.run(since)
        assert report.records == report.planned == 4 * 9 + 1 + 1 + 1
        assert report.skipped == 1
        rebuilt = await views(sessions, profile_settings, customers, as_of)
        assert rebuilt[customers[0]]["rfm"]["frequency"] == 4
        for customer_id in customers[1:]:
            assert rebuilt[customer_id] == expected_after[customer_id]

        more = wire_event(
            "purchase", purchase_payload("3.00"), at=datetime.now(UTC), customer_id=customers[1]
        )
        await produce([more])
        await drain(live)
    finally:
        await live.stop()
    final = await views(sessions, profile_settings, customers, as_of)
    assert final[customers[0]]["rfm"]["frequency"] == 4
    assert final[customers[1]]["rfm"]["frequency"] == 4
    assert final[customers[2]] == rebuilt[customers[2]]
    assert final[customers[3]] is None
    async with sessions() as session:
        tables = await session.scalar(
            text("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'profile_customers%'")
        )
    assert tables == 1


async def test_rebuild_view_equals_the_live_view_field_by_field(
    profile_settings: ProfileSettings,
    sessions: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
    produce: Produce,
) -> None:
    """With the live fold caught up, the rebuilt views equal the live ones exactly, and the
    rebuilt customer_value rows (swapped in with the states) equal the live rows."""
    customers = [f"rb-{uuid.uuid4().hex[:6]}" for _ in range(3)]
    for seed, customer_id in enumerate(customers):
        await produce(history(customer_id, seed))
    live = ProfileConsumer(profile_settings, sessions=sessions, producer=producer)
    await live.start()
    try:
        await drain(live)
    finally:
        await live.stop()
    as_of = datetime.now(UTC) + timedelta(hours=1)
    before = await views(sessions, profile_settings, customers, as_of)
    values_before = await value_rows(sessions, customers)
    since = get_window_start(profile_settings, datetime.now(UTC))
    await Rebuilder(profile_settings, sessions=sessions).run(since)
    assert await views(sessions, profile_settings, customers, as_of) == before
    assert all(view is not None for view in before.values())
    assert len(values_before) == 3
    assert await value_rows(sessions, customers) == values_before
    async with sessions() as session:
        tables = await session.scalar(
            text("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'customer_value%'")
        )
    assert tables == 1


async def value_rows(
    sessions: async_sessionmaker[AsyncSession], customers: list[str]
) -> dict[str, tuple[Any, ...]]:
    """The customers' customer_value rows without as_of (the fold time differs)."""
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT customer_id, window_frequency, window_monetary, window_profit, "
                "lifetime_purchases, lifetime_monetary, lifetime_profit, first_purchase_at, "
                "last_purchase_at, member_tier FROM customer_value WHERE customer_id = ANY(:ids)"
            ),
            {"ids": customers},
        )
        return {row[0]: tuple(row[1:]) for row in rows}


async def test_rebuild_while_the_live_consumer_runs_loses_and_doubles_nothing(
    profile_settings: ProfileSettings,
    sessions: async_sessionmaker[AsyncSession],
    produce: Produce,
) -> None:
    """Events keep arriving and the in-app consumer keeps folding while a rebuild swaps."""
    from tests.integration.profile.test_api import eventually, serve

    customer_id = f"rb-{uuid.uuid4().hex[:6]}"

    def purchases(count: int) -> list[InteractionEvent]:
        now = datetime.now(UTC)
        return [
            wire_event(
                "purchase",
                purchase_payload("1.00"),
                at=now - timedelta(minutes=i),
                customer_id=customer_id,
            )
            for i in range(count)
        ]

    async def frequency_is(client: Any, count: int) -> None:
        await eventually(
            lambda: client.get(f"/v1/customers/{customer_id}"),
            lambda r: r.status_code == 200 and r.json()["rfm"]["frequency"] == count,
        )

    async with serve(profile_settings) as client:
        await produce(purchases(30))
        await frequency_is(client, 30)

        async def trickle() -> None:
            for _ in range(10):
                await produce(purchases(3))
                await asyncio.sleep(0.05)

        since = get_window_start(profile_settings, datetime.now(UTC))
        rebuild = Rebuilder(profile_settings, sessions=sessions).run(since)
        await asyncio.gather(trickle(), rebuild)
        await frequency_is(client, 60)
        await asyncio.sleep(1.0)
        final = await client.get(f"/v1/customers/{customer_id}")
    assert final.json()["rfm"]["frequency"] == 60
    assert final.json()["rfm"]["monetary"] == "60.00"

"""Contract of the customer_value rows (migration 0010) the fold shell writes, on the real
database: written with the states in the batch transaction, one upsert per batch, removed on
erase and on merge."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.unit.profile.factories import NOW, purchase
from tests.unit.profile.factories import event as parsed_event
from touchpoint_profile.consumer.batch import apply_batch
from touchpoint_profile.fold.events import ParsedEvent
from touchpoint_profile.fold.rules import FoldRules
from touchpoint_profile.projection.postgres import PostgresProjection

pytestmark = pytest.mark.integration

RULES = FoldRules(currency_rates={"USD": Decimal("7.10")}, margin_rates={"tents": Decimal("0.4")})


async def fold(sessions: async_sessionmaker[AsyncSession], events: list[ParsedEvent]) -> None:
    """One batch through the fold shell in one transaction (no identity erasure needed)."""

    async def erase(customer_id: str) -> list[str]:
        return [customer_id]

    async with sessions() as session, session.begin():
        await apply_batch(
            store=PostgresProjection(session), events=events, now=NOW, rules=RULES, erase=erase
        )


async def value_row(
    sessions: async_sessionmaker[AsyncSession], customer_id: str
) -> dict[str, Any] | None:
    """The customer_value row as the ranking job reads it, None when absent."""
    async with sessions() as session:
        row = (
            await session.execute(
                text("SELECT * FROM customer_value WHERE customer_id = :id"), {"id": customer_id}
            )
        ).one_or_none()
    return None if row is None else dict(row._mapping)


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL statements the engine runs meanwhile."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


def purchase_with_items(customer_id: str, currency: str, items: list[dict[str, Any]], **kw: Any):
    """A purchase of these item lines, paid in full in `currency`."""
    amount = sum(Decimal(i["unit_price"]) * i["quantity"] for i in items)
    payload = {"order_id": "o-1", "amount": str(amount), "currency": currency, "items": items}
    return parsed_event("purchase", payload, customer_id=customer_id, **kw)


async def test_rows_are_written_with_the_states_in_one_upsert(
    sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    """A batch for three customers writes three rows with one INSERT ... unnest statement:
    profit from unit_cost (100 - 60 = 40) and from the category margin (tents 40% of 200 = 80),
    USD converted at 7.10, a customer paying in an unrated currency keeps 0 in the row."""
    cny, usd, unrated = (f"val-{uuid.uuid4().hex[:6]}" for _ in range(3))
    cost_line = {
        "sku": "s",
        "category": "shoes",
        "quantity": 1,
        "unit_price": "100.00",
        "unit_cost": "60.00",
    }
    tent_line = {"sku": "t", "category": "tents", "quantity": 2, "unit_price": "100.00"}
    batch = [
        purchase_with_items(cny, "CNY", [cost_line, tent_line], days_ago=3),
        purchase_with_items(usd, "USD", [cost_line], days_ago=1),
        purchase_with_items(unrated, "EUR", [tent_line], days_ago=1),
    ]  # fmt: skip
    with statements(engine) as seen:
        await fold(sessions, batch)
    upserts = [s for s in seen if "INSERT INTO customer_value" in s]
    assert len(upserts) == 1
    assert "unnest" in upserts[0]
    row = await value_row(sessions, cny)
    assert row is not None
    assert (row["window_frequency"], row["window_monetary"], row["window_profit"]) == (
        1,
        Decimal("300.00"),
        Decimal("120.00"),
    )
    assert (row["lifetime_purchases"], row["lifetime_profit"]) == (1, Decimal("120.00"))
    assert row["reporting_currency"] == "CNY"
    assert row["first_purchase_at"] == row["last_purchase_at"] == batch[0].event.occurred_at
    assert row["as_of"] == NOW
    usd_row = await value_row(sessions, usd)
    assert usd_row is not None
    assert (usd_row["window_monetary"], usd_row["window_profit"]) == (
        Decimal("710.00"),
        Decimal("284.00"),
    )
    unrated_row = await value_row(sessions, unrated)
    assert unrated_row is not None
    assert (unrated_row["window_monetary"], unrated_row["lifetime_purchases"]) == (Decimal(0), 1)


async def test_a_later_batch_replaces_the_row(sessions: async_sessionmaker[AsyncSession]) -> None:
    """A second purchase updates the same row (upsert): two purchases, spend added up."""
    cid = f"val-{uuid.uuid4().hex[:6]}"
    await fold(sessions, [purchase("100.00", customer_id=cid, days_ago=5)])
    await fold(sessions, [purchase("50.00", customer_id=cid, days_ago=2)])
    row = await value_row(sessions, cid)
    assert row is not None
    assert (row["window_frequency"], row["window_monetary"]) == (2, Decimal("150.00"))
    assert row["lifetime_purchases"] == 2


async def test_erase_and_merge_remove_the_row(sessions: async_sessionmaker[AsyncSession]) -> None:
    """An erased customer and a customer merged into another have no customer_value row;
    the survivor's row carries the merged purchases."""
    erased, loser, survivor = (f"val-{uuid.uuid4().hex[:6]}" for _ in range(3))
    await fold(
        sessions,
        [
            purchase("80.00", customer_id=erased, days_ago=2),
            purchase("70.00", customer_id=loser, days_ago=2),
            purchase("30.00", customer_id=survivor, days_ago=1),
        ],
    )
    assert await value_row(sessions, erased) is not None
    identify = {"linked": [], "merged_customer_ids": [loser]}
    await fold(
        sessions,
        [
            parsed_event("erase", {}, customer_id=erased, days_ago=0),
            parsed_event("identify", identify, customer_id=survivor, days_ago=0),
        ],
    )
    assert await value_row(sessions, erased) is None
    assert await value_row(sessions, loser) is None
    row = await value_row(sessions, survivor)
    assert row is not None
    assert (row["lifetime_purchases"], row["window_monetary"]) == (2, Decimal("100.00"))

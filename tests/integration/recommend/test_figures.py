"""Offer figures on the real database: acceptance by offer, segment, channel and store; lift
over the holdout."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from touchpoint_common.db.engine import create_engine, create_session_factory
from touchpoint_common.settings import CommonSettings
from touchpoint_recommend.figures.service import get_offer_figures
from touchpoint_recommend.store.tables import contacts, decisions

pytestmark = pytest.mark.integration

# A moment no other test writes contacts at, so the figures see only these rows.
AT = datetime(2001, 3, 1, tzinfo=UTC)


@pytest_asyncio.fixture
async def sessions(settings: CommonSettings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the session database."""
    engine = create_engine(settings)
    yield create_session_factory(engine)
    await engine.dispose()


def contact(offer: str, *, holdout: bool, outcome: str | None, channel: str = "pos") -> Any:
    """One presented offer."""
    return {
        "decision_id": uuid.uuid4().hex,
        "offer_id": offer,
        "customer_id": "c-figures",
        "segment": "loyal",
        "kind": "discount",
        "rank": 1,
        "holdout": holdout,
        "channel": channel,
        "presented_at": AT,
        "outcome": outcome,
        "outcome_at": AT if outcome else None,
    }


async def test_acceptance_and_lift_per_offer_segment_and_channel(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Offer x: 10 learned contacts, 4 accepted (40%); 10 holdout, 1 accepted (10%): lift 0.30.
    Offer y: 5 learned on the web, none accepted, no holdout: rate 0, lift unknown (None).
    The segment adds both offers up; the channels split pos from web."""
    offer_x, offer_y = f"x-{uuid.uuid4().hex[:6]}", f"y-{uuid.uuid4().hex[:6]}"
    rows = [
        *[contact(offer_x, holdout=False, outcome="accepted") for _ in range(4)],
        *[contact(offer_x, holdout=False, outcome="rejected") for _ in range(3)],
        *[contact(offer_x, holdout=False, outcome=None) for _ in range(3)],
        contact(offer_x, holdout=True, outcome="accepted"),
        *[contact(offer_x, holdout=True, outcome="ignored") for _ in range(9)],
        *[contact(offer_y, holdout=False, outcome=None, channel="web") for _ in range(5)],
    ]
    async with sessions() as db_session, db_session.begin():
        await db_session.execute(insert(contacts), rows)
    async with sessions() as db_session:
        figures = await get_offer_figures(
            db_session=db_session, since=AT - timedelta(hours=1), until=AT + timedelta(hours=1)
        )
    by_offer = {row.key: row for row in figures.by_offer}
    x, y = by_offer[offer_x], by_offer[offer_y]
    assert (x.presented, x.accepted, x.holdout_presented, x.holdout_accepted) == (10, 4, 10, 1)
    assert x.rate == pytest.approx(0.4)
    assert x.holdout_rate == pytest.approx(0.1)
    assert x.lift == pytest.approx(0.3)
    assert (y.presented, y.rate, y.holdout_rate, y.lift) == (5, 0.0, None, None)
    segment = {row.key: row for row in figures.by_segment}["loyal"]
    assert (segment.presented, segment.accepted, segment.holdout_presented) == (15, 4, 10)
    channels = {row.key: row.presented + row.holdout_presented for row in figures.by_channel}
    assert channels == {"pos": 20, "web": 5}
    assert figures.by_store == []  # no decision named a store


def decision(contact_row: dict[str, Any], store_id: str | None) -> dict[str, Any]:
    """The decision a contact was presented from, asked for by `store_id`."""
    return {
        "decision_id": contact_row["decision_id"],
        "customer_id": contact_row["customer_id"],
        "channel": contact_row["channel"],
        "segment": contact_row["segment"],
        "strategy": "bandit",
        "holdout": contact_row["holdout"],
        "offers": [],
        "decided_at": AT,
        "store_id": store_id,
    }


async def test_acceptance_and_lift_per_store(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Issue 13 (acceptance by store with the lift over the holdout): store S1 asked for 4
    learned decisions, 3 accepted (75%), and 4 holdout ones, 1 accepted (25%): lift 0.50.
    Store S2: 2 learned, none accepted, no holdout. A request that named no store counts for
    its offer but not in by_store."""
    at = AT + timedelta(days=3)
    s1, s2 = f"S1-{uuid.uuid4().hex[:6]}", f"S2-{uuid.uuid4().hex[:6]}"
    offer = f"z-{uuid.uuid4().hex[:6]}"
    plan: list[tuple[str | None, bool, str | None]] = [
        *[(s1, False, "accepted")] * 3,
        (s1, False, "rejected"),
        (s1, True, "accepted"),
        *[(s1, True, None)] * 3,
        *[(s2, False, "ignored")] * 2,
        (None, False, "accepted"),
    ]
    rows = []
    for _, holdout, outcome in plan:
        row = contact(offer, holdout=holdout, outcome=outcome)
        rows.append({**row, "presented_at": at, "outcome_at": at if outcome else None})
    async with sessions() as db_session, db_session.begin():
        await db_session.execute(insert(contacts), rows)
        await db_session.execute(
            insert(decisions),
            [decision(row, store) for row, (store, _, _) in zip(rows, plan, strict=True)],
        )
    async with sessions() as db_session:
        figures = await get_offer_figures(
            db_session=db_session, since=at - timedelta(hours=1), until=at + timedelta(hours=1)
        )
    stores = {row.key: row for row in figures.by_store}
    assert set(stores) == {s1, s2}
    first, second = stores[s1], stores[s2]
    assert (first.presented, first.accepted, first.holdout_presented) == (4, 3, 4)
    assert first.rate == pytest.approx(0.75)
    assert first.holdout_rate == pytest.approx(0.25)
    assert first.lift == pytest.approx(0.5)
    assert (second.presented, second.rate, second.holdout_rate, second.lift) == (2, 0.0, None, None)
    assert {row.key: row.presented for row in figures.by_offer}[offer] == 7

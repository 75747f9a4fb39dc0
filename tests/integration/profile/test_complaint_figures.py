"""Complaint time to resolve and satisfaction after follow-up on the real database: the fold
writes the resolved complaints beside the state, the ranking job counts them in one scan, the
gauges show them; migration 0015 fills the columns of states written before it."""

from __future__ import annotations

import importlib.util
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.unit.profile.factories import call, complaint, complaint_step, event
from touchpoint_common.db import migrations
from touchpoint_profile.consumer.batch import apply_batch
from touchpoint_profile.fold.fold import fold_many
from touchpoint_profile.fold.rules import FoldRules
from touchpoint_profile.fold.state import new_state
from touchpoint_profile.projection.postgres import PostgresProjection
from touchpoint_profile.ranking.metrics import set_figures
from touchpoint_profile.ranking.models import RankingRun
from touchpoint_profile.ranking.service import Moment, get_complaint_figures
from touchpoint_profile.settings import ProfileSettings

pytestmark = pytest.mark.integration
AT = datetime(2003, 5, 1, 12, tzinfo=UTC)
"""A moment no other test resolves complaints at, so the period holds only these."""
HOUR = timedelta(hours=1)


async def _erase(customer_id: str) -> list[str]:
    return [customer_id]


def _load(name: str) -> Any:
    """A migration module by file name."""
    path = Path(migrations.__file__).parent / "versions" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"migration_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_time_to_resolve_and_satisfaction_after_follow_up(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Issue 13 (complaint time to resolve, satisfaction after follow-up): a high complaint
    resolved in 10 h (within its 24 h) rated 5; a critical one resolved in 10 h (past its
    4 h) rated 2; one whose opening was never seen has no time; one resolved before the
    period and one still open do not count. Mean, median and p90 hours 10, on time 1 of 2,
    2 follow-ups with mean satisfaction 3.5, half satisfied (4-5)."""
    cid, other = (f"cf-{uuid.uuid4().hex[:6]}" for _ in range(2))
    critical = {"complaint_id": "K2", "category": "c", "severity": "critical"}
    events = [
        complaint("K1", customer_id=cid, at=AT - 40 * HOUR),
        complaint_step("complaint_resolved", "K1", customer_id=cid, at=AT - 30 * HOUR),
        complaint_step("complaint_follow_up", "K1", customer_id=cid, at=AT, satisfaction=5),
        event("complaint", critical, customer_id=cid, channel="call_centre", at=AT - 20 * HOUR),
        complaint_step("complaint_resolved", "K2", customer_id=cid, at=AT - 10 * HOUR),
        complaint_step("complaint_follow_up", "K2", customer_id=cid, at=AT, satisfaction=2),
        complaint_step("complaint_resolved", "K3", customer_id=other, at=AT - HOUR),
        complaint("K4", customer_id=other, at=AT - 50 * 24 * HOUR),
        complaint_step("complaint_resolved", "K4", customer_id=other, at=AT - 40 * 24 * HOUR),
        complaint("K5", customer_id=other, at=AT - HOUR),
    ]
    async with sessions() as session, session.begin():
        await apply_batch(
            store=PostgresProjection(session),
            events=events,
            now=AT,
            rules=FoldRules(),
            erase=_erase,
        )
    settings = ProfileSettings()
    async with sessions() as session:
        figures = await get_complaint_figures(
            db_session=session, moment=Moment.of(AT, settings), settings=settings
        )
    assert figures.period_days == 30
    assert figures.resolved == 3
    assert figures.hours_to_resolve_mean == pytest.approx(10.0)
    assert figures.hours_to_resolve_median == pytest.approx(10.0)
    assert figures.hours_to_resolve_p90 == pytest.approx(10.0)
    assert figures.resolved_on_time_share == pytest.approx(0.5)
    assert figures.followed_up == 2
    assert figures.satisfaction_mean == pytest.approx(3.5)
    assert figures.satisfied_share == pytest.approx(0.5)

    run = RankingRun.model_validate(
        {
            "ranking": {
                "version": 1,
                "computed_at": AT,
                "customers": 0,
                "reporting_currency": "CNY",
                "frequency_cuts": [2, 3, 5, 10],
                "monetary_cuts": [200, 500, 1500, 5000],
                "rfm_top_min": 48,
                "rfm_bottom_max": 7,
                "abc_a_min_profit": 1000,
                "abc_c_max_profit": 0,
            },
            "figures": {
                "reporting_currency": "CNY",
                "customers": 0,
                "buyers": 0,
                "window_buyers": 0,
                "abc": {
                    tier: {"customers": 0, "profit": 0, "customer_share": 0.0, "profit_share": None}
                    for tier in "ABC"
                },
                "rfm_bands": {"top": 0, "middle": 0, "bottom": 0},
                "lifecycle": {},
                "churn": {"period_days": 30, "buyers_at_start": 0, "became_lost": 0, "rate": None},
                "complaints": figures.model_dump(),
            },
            "duration_s": 1.0,
        }
    )
    set_figures(run)
    assert REGISTRY.get_sample_value("touchpoint_complaints_resolved") == 3
    assert REGISTRY.get_sample_value("touchpoint_complaint_satisfaction_mean") == 3.5
    hours = REGISTRY.get_sample_value("touchpoint_complaint_hours_to_resolve", {"stat": "p90"})
    assert hours == pytest.approx(10.0)


async def test_the_migration_fills_commitments_and_resolved_complaints_of_older_states(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A row written without the 0015 columns gets them from its JSON state: the promise not
    kept, the resolved complaint with its hours and satisfaction (none for the open one)."""
    migration = _load("0015_care_plans")
    cid = f"old15-{uuid.uuid4().hex[:6]}"
    due = AT + 2 * HOUR
    steps = [
        call(customer_id=cid, commitment_id="P", due_at=due, at=AT - HOUR),
        complaint("A", customer_id=cid, at=AT - 6 * HOUR),
        complaint_step("complaint_resolved", "A", customer_id=cid, at=AT - 3 * HOUR),
        complaint_step("complaint_follow_up", "A", customer_id=cid, at=AT, satisfaction=4),
        complaint("B", customer_id=cid, at=AT - HOUR),
    ]
    state = fold_many(new_state(cid), steps, AT)
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                "INSERT INTO profile_customers (customer_id, state, erased, updated_at) "
                "VALUES (:id, CAST(:state AS jsonb), false, now())"
            ),
            {"id": cid, "state": state.model_dump_json()},
        )
        await session.execute(text(migration.BACKFILL_CARE))
    async with sessions() as session:
        row = (
            await session.execute(
                text(
                    "SELECT open_commitment_due_at, closed_complaint_severity, "
                    "closed_complaint_hours, closed_complaint_satisfaction "
                    "FROM profile_customers WHERE customer_id = :id"
                ),
                {"id": cid},
            )
        ).one()
    assert row.open_commitment_due_at == [due]
    assert row.closed_complaint_severity == ["high"]
    assert row.closed_complaint_hours == [pytest.approx(3.0)]
    assert row.closed_complaint_satisfaction == [4]


async def test_the_migration_fills_the_preferred_store_from_the_window(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A value row written before 0015 gets the store with the most events in the (default,
    90-day) window of its state; ties go to the first store by name, as the view picks."""
    migration = _load("0015_care_plans")
    cid = f"store15-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    steps = [
        call(customer_id=cid, store_id="s-b", at=now - HOUR),
        call(customer_id=cid, store_id="s-a", at=now - 2 * HOUR),
        call(customer_id=cid, store_id="s-c", at=now - 24 * HOUR),
        call(customer_id=cid, store_id="s-c", at=now - 48 * HOUR),
    ]
    state = fold_many(new_state(cid), steps, now)
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                "INSERT INTO profile_customers (customer_id, state, erased, updated_at) "
                "VALUES (:id, CAST(:state AS jsonb), false, now())"
            ),
            {"id": cid, "state": state.model_dump_json()},
        )
        await session.execute(
            text(
                "INSERT INTO customer_value (customer_id, reporting_currency, as_of) "
                "VALUES (:id, 'CNY', now())"
            ),
            {"id": cid},
        )
        await session.execute(text(migration.BACKFILL_STORE))
    async with sessions() as session:
        store = await session.scalar(
            text("SELECT preferred_store FROM customer_value WHERE customer_id = :id"),
            {"id": cid},
        )
    assert store == "s-c"

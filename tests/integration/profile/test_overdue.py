"""The overdue-complaints gauge on the real database: the fold writes each customer's open
complaint clocks with the state, and one SQL count under the policy gives open and overdue."""

from __future__ import annotations

import importlib.util
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.unit.profile.factories import NOW, complaint, complaint_step, event
from touchpoint_common.db import migrations
from touchpoint_profile.care.overdue import count_complaints, set_gauges
from touchpoint_profile.fold.fold import fold_many
from touchpoint_profile.fold.rules import ResponseTimes
from touchpoint_profile.fold.state import CustomerState, new_state, tombstone
from touchpoint_profile.projection.postgres import PostgresProjection

pytestmark = pytest.mark.integration
HOUR = timedelta(hours=1)
POLICY = ResponseTimes()


async def put(sessions: async_sessionmaker[AsyncSession], *states: CustomerState) -> None:
    """Write states as the fold's shell does."""
    async with sessions() as session, session.begin():
        await PostgresProjection(session).put_states(list(states))


async def counts(sessions: async_sessionmaker[AsyncSession]) -> dict[str, tuple[int, int]]:
    """(open, overdue) by severity at NOW."""
    async with sessions() as session:
        return await count_complaints(db_session=session, now=NOW, policy=POLICY)


def delta(
    after: dict[str, tuple[int, int]], before: dict[str, tuple[int, int]]
) -> dict[str, tuple[int, int]]:
    """What changed per severity (other tests share the database)."""
    changed = {}
    for severity in after.keys() | before.keys():
        a, b = after.get(severity, (0, 0)), before.get(severity, (0, 0))
        if a != b:
            changed[severity] = (a[0] - b[0], a[1] - b[1])
    return changed


async def test_open_and_overdue_complaints_are_counted_under_the_policy(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A high complaint 30 h old is overdue, a critical one 1 h old is not; resolving one,
    erasing or merging its customer takes it out of the count; the gauges show the count."""
    cid, other = (f"due-{uuid.uuid4().hex[:6]}" for _ in range(2))
    before = await counts(sessions)
    late = complaint("LATE", at=NOW - 30 * HOUR, customer_id=cid)
    fresh = event(
        "complaint",
        {"complaint_id": "NEW", "category": "c", "severity": "critical"},
        at=NOW - HOUR,
        customer_id=cid,
        channel="call_centre",
    )
    state = fold_many(new_state(cid), [late, fresh], NOW)
    second = fold_many(
        new_state(other), [complaint("X", at=NOW - 40 * HOUR, customer_id=other)], NOW
    )
    await put(sessions, state, second)
    assert delta(await counts(sessions), before) == {"high": (2, 2), "critical": (1, 0)}
    resolved = complaint_step("complaint_resolved", "LATE", customer_id=cid, at=NOW)
    state = fold_many(state, [resolved], NOW)
    merged = second.model_copy(update={"merged_into": cid})
    await put(sessions, state, merged)
    assert delta(await counts(sessions), before) == {"critical": (1, 0)}
    await put(sessions, tombstone(cid, NOW))
    after = await counts(sessions)
    assert delta(after, before) == {}
    set_gauges({"high": (3, 2)}, NOW)
    assert REGISTRY.get_sample_value("touchpoint_complaints_overdue", {"severity": "high"}) == 2
    assert REGISTRY.get_sample_value("touchpoint_complaints_open", {"severity": "low"}) == 0


async def test_the_migration_fills_the_clocks_of_states_written_before_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A row written without the clock columns gets them from its JSON state: open complaints
    only, none for a resolved one."""
    path = Path(migrations.__file__).parent / "versions" / "0011_complaints.py"
    spec = importlib.util.spec_from_file_location("migration_0011", path)
    assert spec is not None
    assert spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    cid = f"old-{uuid.uuid4().hex[:6]}"
    steps = [
        complaint("A", at=NOW - HOUR, customer_id=cid),
        complaint("B", at=NOW - 2 * HOUR, customer_id=cid),
        complaint_step("complaint_resolved", "B", customer_id=cid),
    ]
    state = fold_many(new_state(cid), steps, NOW)
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                "INSERT INTO profile_customers (customer_id, state, erased, updated_at) "
                "VALUES (:id, CAST(:state AS jsonb), false, now())"
            ),
            {"id": cid, "state": state.model_dump_json()},
        )
        await session.execute(text(migration.BACKFILL))
    async with sessions() as session:
        row = (
            await session.execute(
                text(
                    "SELECT open_complaint_severity, open_complaint_opened_at "
                    "FROM profile_customers WHERE customer_id = :id"
                ),
                {"id": cid},
            )
        ).one()
    assert row.open_complaint_severity == ["high"]
    assert row.open_complaint_opened_at == [NOW - HOUR]

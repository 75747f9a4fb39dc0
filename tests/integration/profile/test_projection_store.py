"""Contract of the PostgreSQL ProjectionStore adapter against the real database."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.unit.profile.factories import NOW, complaint, purchase
from touchpoint_profile.fold.fold import fold_many
from touchpoint_profile.fold.state import CustomerState, new_state, tombstone
from touchpoint_profile.projection.postgres import PostgresProjection, check_table_name
from touchpoint_profile.projection.store import ProjectionStore

pytestmark = pytest.mark.integration


def as_store(session: AsyncSession) -> ProjectionStore:
    """The adapter seen through the interface (mypy checks it satisfies the Protocol)."""
    return PostgresProjection(session)


def without_dedup(state: CustomerState) -> CustomerState:
    """The state as the view reads it: its dedup sets stay in their own column."""
    value = state.value.model_copy(update={"money_ids": {}})
    return state.model_copy(update={"applied": {}, "value": value})


async def test_states_round_trip_and_upsert(sessions: async_sessionmaker[AsyncSession]) -> None:
    """What is put is what the fold reads back (the view's read, get_state, the same without
    the dedup sets); a second put replaces; tombstones are flagged."""
    cid, other = (f"store-{uuid.uuid4().hex[:6]}" for _ in range(2))
    history = [purchase(days_ago=2, customer_id=cid), complaint("K", customer_id=cid)]
    state = fold_many(new_state(cid), history, NOW)
    async with sessions() as session, session.begin():
        await as_store(session).put_states([state, tombstone(other, NOW)])
    async with sessions() as session, session.begin():
        store = as_store(session)
        assert await store.get_state(cid) == without_dedup(state)
        locked = await store.get_states_for_update([cid, other, "nobody"])
        assert set(locked) == {cid, other}
        assert locked[cid] == state
        updated = fold_many(state, [purchase(days_ago=1, customer_id=cid)], NOW)
        await store.put_states([updated])
    async with sessions() as session:
        assert await as_store(session).get_state(cid) == without_dedup(updated)
        assert (await as_store(session).get_states_for_update([cid]))[cid] == updated
        erased = await session.scalar(
            text("SELECT erased FROM profile_customers WHERE customer_id = :id"), {"id": other}
        )
        assert erased is True


async def test_rows_read_for_update_are_locked_until_commit(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A second transaction cannot lock a row the batch transaction holds."""
    cid = f"lock-{uuid.uuid4().hex[:6]}"
    async with sessions() as session, session.begin():
        await as_store(session).put_states([new_state(cid)])
    async with sessions() as holder, holder.begin():
        await as_store(holder).get_states_for_update([cid])
        async with sessions() as other, other.begin():
            with pytest.raises(DBAPIError, match="could not obtain lock"):
                await other.execute(
                    text(
                        "SELECT 1 FROM profile_customers WHERE customer_id = :id FOR UPDATE NOWAIT"
                    ),
                    {"id": cid},
                )


def test_table_names_are_checked() -> None:
    """Only plain identifiers can become the table name interpolated into SQL."""
    assert check_table_name("profile_customers_rebuild") == "profile_customers_rebuild"
    with pytest.raises(ValueError, match="table"):
        check_table_name("x; DROP TABLE customers")

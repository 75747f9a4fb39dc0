"""Races of the fold's I/O shell on the real database, driven into each interleaving."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.locks import Body, second_waits_for_first
from tests.unit.profile.factories import NOW, event, purchase
from touchpoint_profile.consumer.batch import BatchOutcome, apply_batch
from touchpoint_profile.fold.evaluate import get_rfm
from touchpoint_profile.fold.events import ParsedEvent
from touchpoint_profile.fold.rules import FoldRules
from touchpoint_profile.fold.state import CustomerState
from touchpoint_profile.projection.postgres import PostgresProjection

pytestmark = pytest.mark.integration

RULES = FoldRules()


async def _no_erase(customer_id: str) -> list[str]:
    """These batches erase nobody."""
    raise AssertionError(f"unexpected erase of {customer_id}")


def batch_of(*events: ParsedEvent) -> Body:
    """A transaction body applying one batch, as the consumer of some partition does."""

    async def body(session: AsyncSession) -> BatchOutcome:
        store = PostgresProjection(session)
        return await apply_batch(
            store=store, events=list(events), now=NOW, rules=RULES, erase=_no_erase
        )

    return body


def merge_of(survivor: str, loser: str) -> ParsedEvent:
    """The identify event that merges `loser` into `survivor` (on the survivor's partition)."""
    payload = {"linked": [], "merged_customer_ids": [loser]}
    return event("identify", payload, customer_id=survivor)


async def state_of(sessions: async_sessionmaker[AsyncSession], customer_id: str) -> CustomerState:
    """The committed state of one customer (it must exist)."""
    async with sessions() as session:
        state = await PostgresProjection(session).get_state(customer_id)
    assert state is not None, customer_id
    return state


@pytest.mark.parametrize("pointer_first", [True, False], ids=["pointer-first", "fold-first"])
async def test_merge_pointer_and_first_fold_of_a_new_customer_serialise(
    pointer_first: bool, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Survivor's partition writes loser→survivor while the loser's partition folds the loser's
    first event, neither having a row yet: whichever commits first, the second waits, the
    pointer survives and the loser's purchase is counted on the survivor, exactly once."""
    survivor, loser = (f"race-{uuid.uuid4().hex[:8]}" for _ in range(2))
    merge = batch_of(merge_of(survivor, loser))
    first_fold = batch_of(purchase(days_ago=1, customer_id=loser))
    first, second = (merge, first_fold) if pointer_first else (first_fold, merge)
    _, _, waited = await second_waits_for_first(sessions, first, second)
    assert waited, "the second batch must queue on the first one's lock"
    pointer = await state_of(sessions, loser)
    assert pointer.merged_into == survivor
    assert pointer.days == {}
    assert get_rfm(await state_of(sessions, survivor), NOW).frequency == 1


async def test_late_event_of_a_merged_customer_follows_the_pointer_written_meanwhile(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A loser with a row: its partition's batch waits for the merge and then lands on the
    survivor instead of writing over the pointer."""
    survivor, loser = (f"race-{uuid.uuid4().hex[:8]}" for _ in range(2))
    async with sessions() as session, session.begin():
        await batch_of(purchase(days_ago=3, customer_id=loser))(session)
    merge = batch_of(merge_of(survivor, loser))
    late = batch_of(purchase(days_ago=0, customer_id=loser))
    _, _, waited = await second_waits_for_first(sessions, merge, late)
    assert waited
    assert (await state_of(sessions, loser)).merged_into == survivor
    assert get_rfm(await state_of(sessions, survivor), NOW).frequency == 2


async def test_placeholders_lock_absent_ids_and_leave_no_row_behind(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """An absent id asked for is locked like a row; the ones not written are gone at the end."""
    written, unused = (f"ph-{uuid.uuid4().hex[:8]}" for _ in range(2))
    async with sessions() as session, session.begin():
        store = PostgresProjection(session)
        assert await store.get_states_for_update([written, unused]) == {}
        assert await store.get_state(written) is None
        async with sessions() as other, other.begin():
            await other.execute(text("SET LOCAL lock_timeout = '100ms'"))
            with pytest.raises(DBAPIError, match="lock timeout"):
                await PostgresProjection(other).get_states_for_update([unused])
        await store.put_states([CustomerState(customer_id=written)])
    async with sessions() as session:
        rows = await session.execute(
            text("SELECT customer_id FROM profile_customers WHERE customer_id = ANY(:ids)"),
            {"ids": [written, unused]},
        )
        assert [row.customer_id for row in rows] == [written]

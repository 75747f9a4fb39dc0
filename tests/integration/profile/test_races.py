"""Races of the fold's I/O shell on the real database, driven into each interleaving."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition
from sqlalchemy import text
from sqlalchemy.event import listen, remove
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.locks import Body, second_waits_for_first
from tests.integration.profile.conftest import Produce
from tests.integration.profile.test_consumer import db_offsets, purchases, view_of
from tests.integration.records import drain
from tests.unit.profile.factories import NOW, event, purchase
from touchpoint_common.tracking.offsets import NextOffsets
from touchpoint_profile.consumer.batch import BatchOutcome, apply_batch
from touchpoint_profile.consumer.runner import ProfileConsumer
from touchpoint_profile.fold.evaluate import get_rfm
from touchpoint_profile.fold.events import ParsedEvent
from touchpoint_profile.fold.rules import FoldRules
from touchpoint_profile.fold.state import CustomerState
from touchpoint_profile.projection.postgres import PostgresProjection
from touchpoint_profile.settings import ProfileSettings

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
    # Folded first, the purchase is in the loser's state as merged (kept for an unmerge);
    # after the pointer it followed the pointer. Either way the survivor counts it once.
    kept = sum(day.purchases for day in pointer.days.values())
    assert kept == (0 if pointer_first else 1)
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


@dataclass
class Holds:
    """Points where a test holds the consumer, each an asyncio event."""

    read: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the seek read the stored positions."""
    release: asyncio.Event = field(default_factory=asyncio.Event)
    """The seek goes on (sets positions, seeks) once this is set."""
    committed: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the batch transaction committed, before the consumer records its position."""
    carry_on: asyncio.Event = field(default_factory=asyncio.Event)
    """The consumer records its position once this is set."""


class SlowSeek(ProfileConsumer):
    """A consumer whose rebalance seek and batch commit are held at chosen points while
    `holds` is set, to replay a partition handed back while a batch is being committed."""

    holds: Holds | None = None

    async def get_stored_offsets(self) -> NextOffsets:
        """The stored positions, read before `release` and handed over after it."""
        stored = await super().get_stored_offsets()
        if self.holds is not None:
            self.holds.read.set()
            await self.holds.release.wait()
        return stored

    async def commit_to_database(self, items: list[ParsedEvent], offsets: NextOffsets) -> Any:
        """The batch committed; then held until `carry_on`."""
        outcome = await super().commit_to_database(items, offsets)
        if self.holds is not None:
            self.holds.committed.set()
            await self.holds.carry_on.wait()
        return outcome


async def fetch(consumer: ProfileConsumer, count: int) -> list[ConsumerRecord[bytes, bytes]]:
    """The next `count` records from the broker, not applied (a batch about to be committed)."""
    kafka = consumer.consumer
    assert kafka is not None
    records: list[ConsumerRecord[bytes, bytes]] = []
    async with asyncio.timeout(30):
        while len(records) < count:
            batch = await kafka.getmany(timeout_ms=200, max_records=count - len(records))
            records += [record for tp in sorted(batch) for record in batch[tp]]
    return records


async def hand_back_during_commit(
    consumer: SlowSeek, in_flight: list[ConsumerRecord[bytes, bytes]], *, seek_ends_first: bool
) -> None:
    """The partition is handed back while `in_flight` commits: the seek reads the position
    before the commit; it ends before the consumer records the new position (stale seek,
    right position) or after it (stale seek, stale position)."""
    kafka = consumer.consumer
    assert kafka is not None
    holds = consumer.holds = Holds()
    handed_back = asyncio.create_task(consumer.seek_to_stored(list(kafka.assignment())))
    await holds.read.wait()
    batch = asyncio.create_task(consumer.process(in_flight))
    await holds.committed.wait()
    if seek_ends_first:
        holds.release.set()
        await handed_back
        holds.carry_on.set()
        await batch
    else:
        holds.carry_on.set()
        await batch
        holds.release.set()
        await handed_back
    consumer.holds = None


@pytest.mark.parametrize("seek_ends_first", [True, False], ids=["stale-seek", "stale-position"])
async def test_batch_handed_back_mid_commit_is_not_counted_again_beyond_the_dedup_window(
    seek_ends_first: bool,
    profile_settings: ProfileSettings,
    sessions: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
    produce: Produce,
) -> None:
    """A batch larger than the fold's dedup memory (10 ids, a timeline of 3) is re-read after a
    hand-back whose seek read the position from before its commit: only the offsets can keep it
    from counting twice, and they do (the batch-start check skips it when the consumer's
    position is right; the compare-and-set refuses it when the position is stale too)."""
    rules = profile_settings.profile_rules.model_copy(
        update={"max_applied_ids": 10, "timeline_size": 3}
    )
    settings = profile_settings.model_copy(
        update={"profile_rules": rules, "consumer_batch_max_records": 100}
    )
    customer_id = f"stale-{uuid.uuid4().hex[:6]}"
    await produce(purchases(customer_id, 5))
    consumer = SlowSeek(settings, sessions=sessions, producer=producer)
    await consumer.start()
    try:
        await drain(consumer)
        await produce(purchases(customer_id, 15, "20.00"))
        in_flight = await fetch(consumer, 15)
        first, last = in_flight[0], in_flight[-1]
        await hand_back_during_commit(consumer, in_flight, seek_ends_first=seek_ends_first)
        kafka = consumer.consumer
        assert kafka is not None
        tp = TopicPartition(settings.topic_interactions, first.partition)
        assert await kafka.position(tp) == first.offset, "the batch is read again"
        position = last.offset + 1 if seek_ends_first else first.offset
        assert consumer.positions[first.partition] == position
        await drain(consumer)
    finally:
        await consumer.stop()
    view = await view_of(sessions, settings, customer_id)
    assert view is not None
    assert (view.rfm.frequency, view.rfm.monetary) == (20, Decimal("350.00"))
    assert (await db_offsets(sessions, settings))[first.partition] == last.offset + 1


async def test_locking_existing_rows_is_one_statement_absent_ones_two_more(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The common case (every row there) costs one statement; only new ids add the
    placeholder insert and a second locking select."""
    known, new = (f"count-{uuid.uuid4().hex[:8]}" for _ in range(2))
    async with sessions() as session, session.begin():
        await PostgresProjection(session).put_states([CustomerState(customer_id=known)])
    statements: list[str] = []

    def count(*args: Any) -> None:
        """Record each statement the session sends."""
        statements.append(args[2])

    async with sessions() as session, session.begin():
        store = PostgresProjection(session)
        engine = (await session.connection()).sync_engine
        listen(engine, "before_cursor_execute", count)
        try:
            assert set(await store.get_states_for_update([known])) == {known}
            assert len(statements) == 1
            assert set(await store.get_states_for_update([known, new])) == {known}
            assert len(statements) == 4
        finally:
            remove(engine, "before_cursor_execute", count)

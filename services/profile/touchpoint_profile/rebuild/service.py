"""Replay the topic from a moment into a fresh table, catch up with the live fold, swap.

Cost follows the window: the replay starts at offsets_for_times(since), not at the start of
the log. The swap happens in one transaction that holds the live table's lock: the fresh
table is brought exactly to the live consumer's stored offsets (or past them, in which case
the stored offsets move forward and the live consumer's compare-and-set makes it re-seek).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from touchpoint_common.kafka.admin import get_topic_partitions
from touchpoint_common.kafka.consumer import create_consumer
from touchpoint_common.tracking.dead_letter import Rejected
from touchpoint_common.tracking.offsets import NextOffsets, PostgresOffsetStore
from touchpoint_common.tracking.seek import seek_since
from touchpoint_profile.consumer.handler import Clock, FoldHandler, utc_now
from touchpoint_profile.fold.events import ParsedEvent
from touchpoint_profile.rebuild.tables import (
    FRESH_TABLE,
    FRESH_VALUE_TABLE,
    create_fresh_table,
    lock_live_table,
    swap_tables,
)
from touchpoint_profile.settings import ProfileSettings

Progress = Callable[[int], None]
Offsets = NextOffsets


@dataclass
class RebuildReport:
    """What a rebuild read and did."""

    since: datetime
    start_offsets: Offsets = field(default_factory=dict)
    end_offsets: Offsets = field(default_factory=dict)
    records: int = 0
    folded: int = 0
    skipped: int = 0
    seeded: int = 0
    seconds: float = 0.0

    @property
    def planned(self) -> int:
        """Records between the start and the end offsets taken when the replay began."""
        return sum(self.end_offsets[p] - self.start_offsets[p] for p in self.end_offsets)


class Rebuilder:
    """One rebuild of the projection from `since`."""

    def __init__(
        self,
        settings: ProfileSettings,
        *,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock = utc_now,
        progress: Progress | None = None,
        on_plan: Callable[[RebuildReport], None] | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.clock = clock
        self.progress = progress or (lambda _: None)
        self.on_plan = on_plan or (lambda _: None)
        self.topic = settings.topic_interactions
        self.group = settings.consumer_group
        self.handler = FoldHandler(
            rules=settings.profile_rules,
            service_name=settings.service_name,
            clock=clock,
            table=FRESH_TABLE,
            value_table=FRESH_VALUE_TABLE,
        )
        self.positions: Offsets = {}

    async def plan(self, consumer: AIOKafkaConsumer, since: datetime) -> RebuildReport:
        """Assign every partition, seek to `since`, and note where the log ends now."""
        report = RebuildReport(since=since)
        partitions = await get_topic_partitions(self.settings, self.topic)
        consumer.assign(partitions)
        starts = await seek_since(consumer, partitions, since)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            self.positions[tp.partition] = starts[tp]
            report.start_offsets[tp.partition] = starts[tp]
            report.end_offsets[tp.partition] = ends[tp]
        return report

    async def run(self, since: datetime) -> RebuildReport:
        """Fresh table, replay, catch up with the live offsets, swap atomically."""
        started = time.perf_counter()
        async with self.sessions() as session, session.begin():
            seeded = await create_fresh_table(db_session=session)
        consumer = create_consumer(
            self.settings,
            group_id=None,
            client_id=f"{self.settings.service_name}-rebuild",
            max_poll_records=self.settings.consumer_batch_max_records,
        )
        await consumer.start()
        try:
            report = await self.plan(consumer, since)
            report.seeded = seeded
            self.on_plan(report)
            await self.replay(consumer, report, dict(report.end_offsets))
            async with self.sessions() as session:
                live = await PostgresOffsetStore(session).get_offsets(
                    group=self.group, topic=self.topic
                )
            await self.replay(consumer, report, self._targets(live))
            await self.swap(consumer, report)
        finally:
            await consumer.stop()
        report.seconds = time.perf_counter() - started
        return report

    def _targets(self, live: Offsets) -> Offsets:
        return {p: max(position, live.get(p, position)) for p, position in self.positions.items()}

    async def swap(self, consumer: AIOKafkaConsumer, report: RebuildReport) -> None:
        """Under the live table's lock: catch up to the live offsets, move them, swap tables.

        The group's offset rows are locked before the tables, in the order the live consumer
        takes them (its compare-and-set runs first in each batch): the other order deadlocks
        with a batch that holds its offset rows and waits for the tables."""
        async with self.sessions() as session, session.begin():
            offsets = PostgresOffsetStore(session)
            live = await offsets.get_offsets(group=self.group, topic=self.topic, for_update=True)
            await lock_live_table(db_session=session)
            await self.replay(consumer, report, self._targets(live), session=session)
            await offsets.put_offsets(
                group=self.group,
                topic=self.topic,
                offsets=self.positions,
                expected={p: live.get(p) for p in self.positions},
            )
            await swap_tables(db_session=session)

    async def replay(
        self,
        consumer: AIOKafkaConsumer,
        report: RebuildReport,
        targets: Offsets,
        *,
        session: AsyncSession | None = None,
    ) -> None:
        """Fold every record below `targets` into the fresh table, one transaction per batch."""
        while any(self.positions[p] < targets[p] for p in targets):
            batch = await consumer.getmany(
                timeout_ms=500, max_records=self.settings.consumer_batch_max_records
            )
            records: list[ConsumerRecord[bytes, bytes]] = []
            for tp, tp_records in batch.items():
                target = targets[tp.partition]
                records.extend(
                    r for r in tp_records if self.positions[tp.partition] <= r.offset < target
                )
            for tp in consumer.assignment():
                position = await consumer.position(tp)
                target = targets[tp.partition]
                if position > target:
                    consumer.seek(tp, target)
                self.positions[tp.partition] = max(
                    self.positions[tp.partition], min(position, target)
                )
            if records:
                await self._fold(records, report, session)
                self.progress(len(records))

    async def _fold(
        self,
        records: list[ConsumerRecord[bytes, bytes]],
        report: RebuildReport,
        session: AsyncSession | None,
    ) -> None:
        events: list[ParsedEvent] = []
        for record in records:
            try:
                events.append(self.handler.decode(record))
            except Rejected:  # the live consumer dead-lettered it already
                report.skipped += 1
        report.records += len(records)
        if session is not None:
            report.folded += await self._apply(session, events)
            return
        async with self.sessions() as own, own.begin():
            report.folded += await self._apply(own, events)

    async def _apply(self, session: AsyncSession, events: list[ParsedEvent]) -> int:
        outcome = await self.handler.apply(db_session=session, items=events)
        return sum(outcome.folded.values())

"""The one exactly-once consumer loop: a batch's effects and its offsets in one transaction.

Exactly once: the state a batch produces and the next offsets are committed in ONE PostgreSQL
transaction, and on (re)assignment the consumer seeks to the offsets stored there, never to
Kafka's. The Kafka commit that follows only keeps the lag tools truthful; losing it costs
nothing. Three guards keep a record from being applied twice:
- a batch only applies records at or after the position this consumer knows is stored
  (a partition revoked and handed back mid-commit is re-read from an older seek);
- offsets move by compare-and-set from that position, so a zombie after a rebalance or a
  rebuild that moved the position makes the stale writer's transaction roll back;
- the compare-and-set comes first in the transaction, so two writers of one partition queue
  on its row instead of both doing the work.
Records the handler rejects go to the dead-letter topic (acknowledged by the broker) before
their offsets are committed. A batch the database refuses for its data (SQLSTATE class 22 or
23: a NUL in text, an out-of-range number), or in which the handler meets a value it cannot
compute with, is applied again one record at a time; the record that fails alone goes to the
dead-letter topic as `unstorable`. Nothing is skipped silently and no record stalls the
partition; an outage or a bug (anything else) is retried, never dead-lettered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeAlias, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from touchpoint_common.db.errors import DbFailure, classify, get_sqlstate, is_retryable
from touchpoint_common.kafka.consumer import create_consumer
from touchpoint_common.kafka.publisher import Publisher
from touchpoint_common.observability.metrics import EVENTS_CONSUMED, EVENTS_DEAD_LETTERED
from touchpoint_common.settings import CommonSettings
from touchpoint_common.tracking.dead_letter import DeadLetter, Rejected, send_dead_letters
from touchpoint_common.tracking.offsets import (
    ExpectedOffsets,
    NextOffsets,
    OffsetConflict,
    PostgresOffsetStore,
)
from touchpoint_common.tracking.seek import seek_since
from touchpoint_common.tracking.traces import NO_TRACE, BatchTrace, trace_batch, trace_commit

logger = logging.getLogger(__name__)
Item = TypeVar("Item")
Outcome = TypeVar("Outcome")
Record: TypeAlias = ConsumerRecord[bytes, bytes]
MAX_RECOVERY_PAUSE_S = 30.0


class BatchHandler(Protocol[Item, Outcome]):
    """What a service plugs into the tracked consumer: decode records, apply them in a
    transaction, observe the result."""

    def decode(self, record: Record) -> Item:
        """The record as an item to apply; raises Rejected when it breaks the contract."""
        ...

    async def apply(self, *, db_session: AsyncSession, items: Sequence[Item]) -> Outcome:
        """The batch's effects inside the caller's transaction (committed with the offsets)."""
        ...

    def observe(self, items: Sequence[Item], outcome: Outcome) -> None:
        """Metrics after the commit."""
        ...


@dataclass(frozen=True, kw_only=True)
class Tracking:
    """Which log a tracked consumer reads, as which group, and how."""

    group: str
    topic: str
    dead_letter_topic: str
    client_id: str
    since: Callable[[], datetime | None]
    """Where a group with no stored position starts: a moment, or None for the log's start."""
    batch_max_records: int = 500
    batch_timeout_ms: int = 200
    db_retry_attempts: int = 8
    dead_letter_timeout_s: float = 30.0

    @classmethod
    def of_interactions(
        cls,
        settings: CommonSettings,
        *,
        group: str,
        role: str,
        since: Callable[[], datetime | None],
        batch_max_records: int,
        batch_timeout_ms: int,
        db_retry_attempts: int = 8,
    ) -> Tracking:
        """A group on the interactions topic, dead-lettering to the common topic, as client
        `<service_name>-<role>`."""
        return cls(
            group=group,
            topic=settings.topic_interactions,
            dead_letter_topic=settings.topic_dead_letter,
            client_id=f"{settings.service_name}-{role}",
            since=since,
            batch_max_records=batch_max_records,
            batch_timeout_ms=batch_timeout_ms,
            db_retry_attempts=db_retry_attempts,
        )


def is_poison(exc: BaseException) -> bool:
    """An error a record itself causes, the same on every retry: the database refuses the
    data (SQLSTATE 22/23), or the handler finds a value it cannot compute with."""
    if isinstance(exc, DBAPIError):
        return classify(exc) is DbFailure.DATA
    return isinstance(exc, ValueError | ArithmeticError | RecursionError | UnicodeError)


def describe_failure(exc: BaseException) -> str:
    """Why a record was refused, without the server's message (it may quote personal data)."""
    sqlstate = get_sqlstate(exc)
    return f"{type(exc).__name__} (SQLSTATE {sqlstate})" if sqlstate else type(exc).__name__


def get_next_offsets(records: Sequence[Record]) -> NextOffsets:
    """partition -> one past the last record of the batch on it."""
    offsets: NextOffsets = {}
    for record in records:
        offsets[record.partition] = max(offsets.get(record.partition, 0), record.offset + 1)
    return offsets


class _SeekToStoredOffsets(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: TrackedConsumer[Any, Any]) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        self.owner.forget(revoked)

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        await self.owner.seek_to_stored(assigned)


class TrackedConsumer(Generic[Item, Outcome]):
    """A consumer group member whose positions live in PostgreSQL with the state."""

    def __init__(
        self,
        settings: CommonSettings,
        *,
        tracking: Tracking,
        handler: BatchHandler[Item, Outcome],
        sessions: async_sessionmaker[AsyncSession],
        producer: AIOKafkaProducer | Publisher,
    ) -> None:
        self.settings = settings
        self.tracking = tracking
        self.handler = handler
        self.sessions = sessions
        # The runtime's watched publisher when given, so a replaced producer is followed here.
        self.publisher = producer if isinstance(producer, Publisher) else Publisher(producer)
        self.group = tracking.group
        self.topic = tracking.topic
        self.positions: dict[int, int | None] = {}
        """partition -> next offset as stored in PostgreSQL (None: nothing stored yet)."""
        self.kafka_pending: NextOffsets = {}
        """Stored offsets Kafka has not been told yet (after an assignment)."""
        self.consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        """Join the group; partitions are positioned by the rebalance listener."""
        self.consumer = create_consumer(
            self.settings,
            group_id=self.group,
            max_poll_records=self.tracking.batch_max_records,
            client_id=self.tracking.client_id,
        )
        self.consumer.subscribe([self.topic], listener=_SeekToStoredOffsets(self))
        await self.consumer.start()
        logger.info("tracked consumer started", extra={"group": self.group, "topic": self.topic})

    async def stop(self) -> None:
        """Leave the group (no commit: the database holds the truth)."""
        if self.consumer is not None:
            await self.consumer.stop()
            self.consumer = None

    def forget(self, partitions: Sequence[TopicPartition]) -> None:
        """Partitions revoked: their positions belong to the next owner now."""
        for tp in partitions:
            self.positions.pop(tp.partition, None)
            self.kafka_pending.pop(tp.partition, None)

    async def get_stored_offsets(self) -> NextOffsets:
        """The group's positions in PostgreSQL (retried while the database is away)."""
        async for attempt in self._retrying():
            with attempt:
                async with self.sessions() as session:
                    return await PostgresOffsetStore(session).get_offsets(
                        group=self.group, topic=self.topic
                    )
        raise AssertionError("unreachable")  # pragma: no cover

    async def seek_to_stored(self, partitions: Sequence[TopicPartition]) -> None:
        """Seek to the offsets in PostgreSQL; with none stored, to where the window starts."""
        consumer = self._require_consumer()
        mine = [tp for tp in partitions if tp.topic == self.topic]
        # getmany may run while this awaits: nothing is handed out before the seek is done.
        consumer.pause(*mine)
        try:
            stored = await self.get_stored_offsets()
            fresh: list[TopicPartition] = []
            for tp in mine:
                if tp.partition in stored:
                    consumer.seek(tp, stored[tp.partition])
                    self.positions[tp.partition] = stored[tp.partition]
                    self.kafka_pending[tp.partition] = stored[tp.partition]
                else:
                    self.positions[tp.partition] = None
                    fresh.append(tp)
            await seek_since(consumer, fresh, self.tracking.since())
        finally:
            consumer.resume(*mine)

    async def reseek(self) -> None:
        """After a failed batch: go back to the stored positions and read again."""
        consumer = self._require_consumer()
        await self.seek_to_stored(list(consumer.assignment()))

    def _require_consumer(self) -> AIOKafkaConsumer:
        if self.consumer is None:
            raise RuntimeError("consumer not started")
        return self.consumer

    def _retrying(self) -> AsyncRetrying:
        return AsyncRetrying(
            retry=retry_if_exception(is_retryable),
            wait=wait_exponential(multiplier=0.1, max=5),
            stop=stop_after_attempt(self.tracking.db_retry_attempts),
            reraise=True,
        )

    async def run(self) -> None:
        """Poll and apply until cancelled; a failed batch is read again, never skipped."""
        while True:
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except OffsetConflict as exc:
                logger.warning("offsets moved under us; re-seeking", extra={"reason": str(exc)})
                await self.recover(pause_s=0)
            except Exception:
                logger.exception("batch failed; reading it again", extra={"group": self.group})
                await self.recover(pause_s=1)

    async def recover(self, *, pause_s: float) -> None:
        """Seek back to the stored offsets, waiting out a database that is still down."""
        while True:
            await asyncio.sleep(pause_s)
            try:
                await self.reseek()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("cannot re-seek yet; retrying", extra={"group": self.group})
                pause_s = min(max(pause_s * 2, 1), MAX_RECOVERY_PAUSE_S)

    async def poll_once(self) -> int:
        """Read one batch and apply it; returns the number of records read."""
        consumer = self._require_consumer()
        batch = await consumer.getmany(
            timeout_ms=self.tracking.batch_timeout_ms,
            max_records=self.tracking.batch_max_records,
        )
        records = [record for tp in sorted(batch) for record in batch[tp]]
        if records:
            await self.process(records)
        elif self.kafka_pending:
            await self.commit_to_kafka({})
        return len(records)

    def get_unapplied(self, records: Sequence[Record]) -> list[Record]:
        """The records at or after the stored position (older ones were applied already)."""
        return [
            record
            for record in records
            if record.offset >= (self.positions.get(record.partition) or 0)
        ]

    def decode(self, records: Sequence[Record]) -> tuple[list[Item], list[DeadLetter]]:
        """Decode every record; the ones the handler rejects become dead letters."""
        items: list[Item] = []
        letters: list[DeadLetter] = []
        for record in records:
            try:
                items.append(self.handler.decode(record))
            except Rejected as exc:
                letters.append(DeadLetter(record, exc.reason, exc.reason_class))
        return items, letters

    async def process(self, records: Sequence[Record]) -> Outcome | None:
        """Dead letters first, then effects + offsets in one transaction, then Kafka's commit."""
        EVENTS_CONSUMED.labels(self.settings.service_name, self.group).inc(len(records))
        fresh = self.get_unapplied(records)
        if not fresh:
            logger.info("batch already applied; skipped", extra={"group": self.group})
            return None
        with trace_batch(fresh, topic=self.topic, group=self.group) as batch:
            return await self.process_fresh(fresh, batch)

    async def process_fresh(self, fresh: Sequence[Record], batch: BatchTrace) -> Outcome | None:
        """The body of `process` for records not applied yet (under the batch's span)."""
        offsets = get_next_offsets(fresh)
        items, letters = self.decode(fresh)
        if letters:
            await self.send_dead_letters(letters)
        try:
            outcome = await self.commit_traced(items, offsets, trace=batch)
        except Exception as exc:
            if not is_poison(exc):
                raise
            logger.warning(
                "batch refused; applying its records one at a time",
                extra={"group": self.group, "error": describe_failure(exc)},
            )
            await self.apply_one_at_a_time(fresh, batch)
            await self.commit_to_kafka(offsets)
            return None
        self.positions.update(offsets)
        self.handler.observe(items, outcome)
        await self.commit_to_kafka(offsets)
        return outcome

    async def apply_one_at_a_time(
        self, records: Sequence[Record], batch: BatchTrace = NO_TRACE
    ) -> None:
        """Each record in its own transaction; one the database or the handler cannot take
        goes to the dead-letter topic and its offset moves on, so it never stalls the
        partition. Rejected records were dead-lettered already: only their offsets move."""
        for record in records:
            offsets = {record.partition: record.offset + 1}
            try:
                items = [self.handler.decode(record)]
            except Rejected:
                items = []
            try:
                trace = batch.narrowed_to(record)
                outcome = await self.commit_traced(items, offsets, trace=trace)
            except Exception as exc:
                if not is_poison(exc):
                    raise
                await self.send_dead_letters(
                    [DeadLetter(record, describe_failure(exc), "unstorable")]
                )
                items = []
                outcome = await self.commit_to_database(items, offsets)
            self.positions.update(offsets)
            self.handler.observe(items, outcome)

    async def send_dead_letters(self, letters: list[DeadLetter]) -> None:
        """Every letter acknowledged by the broker before its offset may be committed."""
        await send_dead_letters(
            self.publisher,
            letters,
            topic=self.tracking.dead_letter_topic,
            group=self.group,
            timeout_s=self.tracking.dead_letter_timeout_s,
        )
        for letter in letters:
            EVENTS_DEAD_LETTERED.labels(self.settings.service_name, letter.reason_class).inc()
            logger.warning(
                "record dead-lettered",
                extra={
                    "group": self.group,
                    "reason": letter.reason_class,
                    "partition": letter.record.partition,
                    "offset": letter.record.offset,
                },
            )

    async def commit_to_database(self, items: list[Item], offsets: NextOffsets) -> Outcome:
        """One transaction: offsets moved (compare-and-set) and the batch applied (retried)."""
        expected = {partition: self.positions.get(partition) for partition in offsets}
        async for attempt in self._retrying():
            with attempt:
                async with self.sessions() as session, session.begin():
                    return await self.apply_in_transaction(session, items, offsets, expected)
        raise AssertionError("unreachable")  # pragma: no cover

    async def commit_traced(
        self, items: list[Item], offsets: NextOffsets, *, trace: BatchTrace
    ) -> Outcome:
        """commit_to_database under a commit span (when tracing is on)."""
        with trace_commit(trace, group=self.group, records=len(items)):
            return await self.commit_to_database(items, offsets)

    async def apply_in_transaction(
        self,
        session: AsyncSession,
        items: list[Item],
        offsets: NextOffsets,
        expected: ExpectedOffsets,
    ) -> Outcome:
        """The body of the batch transaction: move the offsets first, then apply the batch."""
        await PostgresOffsetStore(session).put_offsets(
            group=self.group, topic=self.topic, offsets=offsets, expected=expected
        )
        return await self.handler.apply(db_session=session, items=items)

    async def commit_to_kafka(self, offsets: NextOffsets) -> None:
        """Mirror the database's offsets to Kafka so lag tools agree; a failure is harmless."""
        consumer = self._require_consumer()
        assigned = {tp.partition for tp in consumer.assignment() if tp.topic == self.topic}
        pending = {
            p: offset for p, offset in {**self.kafka_pending, **offsets}.items() if p in assigned
        }
        self.kafka_pending = {}
        if not pending:
            return
        try:
            await consumer.commit(
                {TopicPartition(self.topic, partition): o for partition, o in pending.items()}
            )
        except Exception as exc:  # the database is authoritative; a later poll catches Kafka up
            logger.warning("kafka offset commit failed", extra={"error": type(exc).__name__})
            self.kafka_pending = pending

"""The consumer loop: poll a batch, fold it in one transaction with its offsets, then tell Kafka.

Exactly once: the projection rows and the next offsets are committed in ONE PostgreSQL
transaction, and on (re)assignment the consumer seeks to the offsets stored there, never to
Kafka's. The Kafka commit that follows is only for the lag tools; losing it costs nothing.
Offsets are compare-and-set, so a consumer that lost its partitions (a zombie after a
rebalance) or a rebuild swap makes the stale writer roll back instead of double counting.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from touchpoint_common.db.errors import is_retryable
from touchpoint_common.events.codec import UndecodableEvent, decode_event
from touchpoint_common.identity.store import erase_customer
from touchpoint_common.kafka.consumer import create_consumer
from touchpoint_common.observability.metrics import (
    EVENTS_CONSUMED,
    EVENTS_DEAD_LETTERED,
    EVENTS_DUPLICATE,
    EVENTS_FOLDED,
    FOLD_FRESHNESS,
)
from touchpoint_profile.consumer.batch import BatchOutcome, apply_batch
from touchpoint_profile.consumer.dead_letter import DeadLetter, send_dead_letters
from touchpoint_profile.fold.events import ContractViolation, ParsedEvent, parse_event
from touchpoint_profile.projection.postgres import LIVE_TABLE, PostgresProjection
from touchpoint_profile.projection.store import OffsetConflict
from touchpoint_profile.settings import ProfileSettings

logger = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The wall clock in UTC."""
    return datetime.now(UTC)


def decode_records(records: list[Any]) -> tuple[list[ParsedEvent], list[DeadLetter]]:
    """Records as events ready to fold, and the ones that break the contract, with why."""
    events: list[ParsedEvent] = []
    letters: list[DeadLetter] = []
    for record in records:
        try:
            parsed = parse_event(decode_event(record.value))
        except UndecodableEvent as exc:
            letters.append(DeadLetter(record, exc.reason, "undecodable"))
            continue
        except ContractViolation as exc:
            letters.append(DeadLetter(record, str(exc), "contract"))
            continue
        key = record.key.decode(errors="replace") if record.key is not None else None
        if key != parsed.event.customer_id:
            letters.append(DeadLetter(record, "record key does not match customer_id", "contract"))
            continue
        events.append(parsed)
    return events, letters


class _SeekToStoredOffsets(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: ProfileConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self.owner.forget(revoked)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self.owner.seek_to_stored(assigned)


class ProfileConsumer:
    """Consumer group `settings.consumer_group` folding the interactions topic."""

    def __init__(
        self,
        settings: ProfileSettings,
        *,
        sessions: async_sessionmaker[AsyncSession],
        producer: AIOKafkaProducer,
        clock: Clock = utc_now,
        table: str = LIVE_TABLE,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.producer = producer
        self.clock = clock
        self.table = table
        self.group = settings.consumer_group
        self.topic = settings.topic_interactions
        self.rules = settings.profile_rules
        self.positions: dict[int, int | None] = {}
        """partition → next offset as stored in PostgreSQL (None: nothing stored yet)."""
        self.consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        """Join the group; partitions are positioned by the rebalance listener."""
        self.consumer = create_consumer(
            self.settings,
            group_id=self.group,
            max_poll_records=self.settings.consumer_batch_max_records,
            client_id=f"{self.settings.service_name}-fold",
        )
        self.consumer.subscribe([self.topic], listener=_SeekToStoredOffsets(self))
        await self.consumer.start()
        logger.info("profile consumer started", extra={"group": self.group, "topic": self.topic})

    async def stop(self) -> None:
        """Leave the group (no commit: the database holds the truth)."""
        if self.consumer is not None:
            await self.consumer.stop()
            self.consumer = None

    def forget(self, partitions: Any) -> None:
        """Partitions revoked: their positions belong to the next owner now."""
        for tp in partitions:
            self.positions.pop(tp.partition, None)

    async def _read_stored_offsets(self) -> dict[int, int]:
        async for attempt in self._retrying():
            with attempt:
                async with self.sessions() as session:
                    store = PostgresProjection(session, table=self.table)
                    return await store.get_offsets(group=self.group, topic=self.topic)
        raise AssertionError("unreachable")  # pragma: no cover

    async def seek_to_stored(self, partitions: Any) -> None:
        """Seek to the offsets in PostgreSQL; with none stored, to the start of the window."""
        consumer = self._require_consumer()
        # getmany may run while this awaits: nothing is handed out before the seek is done.
        consumer.pause(*partitions)
        try:
            await self._seek(consumer, partitions)
        finally:
            consumer.resume(*partitions)

    async def _seek(self, consumer: AIOKafkaConsumer, partitions: Any) -> None:
        stored = await self._read_stored_offsets()
        fresh: list[Any] = []
        for tp in partitions:
            if tp.partition in stored:
                consumer.seek(tp, stored[tp.partition])
                self.positions[tp.partition] = stored[tp.partition]
            else:
                self.positions[tp.partition] = None
                fresh.append(tp)
        if fresh:
            await self._seek_to_window_start(fresh)

    async def _seek_to_window_start(self, partitions: list[Any]) -> None:
        consumer = self._require_consumer()
        since = self.clock() - timedelta(days=self.rules.window_days)
        # End offsets first: a record written after this is newer than `since`, so either
        # offsets_for_times finds it or it lies at or after this end. seek_to_end() instead
        # would race with producers and skip what arrived in between.
        ends = await consumer.end_offsets(partitions)
        found = await consumer.offsets_for_times(
            {tp: int(since.timestamp() * 1000) for tp in partitions}
        )
        for tp in partitions:
            position = found.get(tp)
            consumer.seek(tp, ends[tp] if position is None else position.offset)

    async def reseek(self) -> None:
        """After a failed batch: go back to the last committed positions and read again."""
        consumer = self._require_consumer()
        assigned = list(consumer.assignment())
        await self.seek_to_stored(assigned)

    def _require_consumer(self) -> AIOKafkaConsumer:
        if self.consumer is None:
            raise RuntimeError("consumer not started")
        return self.consumer

    def _retrying(self) -> AsyncRetrying:
        return AsyncRetrying(
            retry=retry_if_exception(is_retryable),
            wait=wait_exponential(multiplier=0.1, max=5),
            stop=stop_after_attempt(self.settings.consumer_db_retry_attempts),
            reraise=True,
        )

    async def run(self) -> None:
        """Poll and fold until cancelled; a failed batch is read again, never skipped."""
        while True:
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except OffsetConflict as exc:
                logger.warning("offsets moved under us; re-seeking", extra={"reason": str(exc)})
                await self.recover(pause_s=0)
            except Exception:
                logger.exception("batch failed; reading it again")
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
                logger.exception("cannot re-seek yet; retrying")
                pause_s = min(max(pause_s * 2, 1), 30)

    async def poll_once(self) -> int:
        """Read one batch and fold it; returns the number of records read."""
        consumer = self._require_consumer()
        batch = await consumer.getmany(
            timeout_ms=self.settings.consumer_batch_timeout_ms,
            max_records=self.settings.consumer_batch_max_records,
        )
        records = [record for tp_records in batch.values() for record in tp_records]
        if records:
            await self.process(records)
        return len(records)

    def decode(self, records: list[Any]) -> tuple[list[ParsedEvent], list[DeadLetter]]:
        """Decode and check every record; the ones that break the contract become letters."""
        return decode_records(records)

    async def process(self, records: list[Any]) -> BatchOutcome:
        """Dead letters first, then states + offsets in one transaction, then Kafka's commit."""
        EVENTS_CONSUMED.labels(self.settings.service_name, self.group).inc(len(records))
        offsets: dict[int, int] = {}
        for record in records:
            offsets[record.partition] = max(offsets.get(record.partition, 0), record.offset + 1)
        events, letters = self.decode(records)
        if letters:
            await send_dead_letters(
                self.producer, letters, topic=self.settings.topic_dead_letter, group=self.group
            )
            for letter in letters:
                EVENTS_DEAD_LETTERED.labels(self.settings.service_name, letter.reason_class).inc()
                logger.warning(
                    "record dead-lettered",
                    extra={"reason": letter.reason_class, "offset": letter.record.offset},
                )
        outcome = await self.commit_to_database(events, offsets)
        self.positions.update(offsets)
        self._observe(events, outcome)
        await self.commit_to_kafka(offsets)
        return outcome

    async def commit_to_database(
        self, events: list[ParsedEvent], offsets: dict[int, int]
    ) -> BatchOutcome:
        """One transaction: locked states folded, written, offsets moved (retried if transient)."""
        expected = {partition: self.positions.get(partition) for partition in offsets}
        async for attempt in self._retrying():
            with attempt:
                async with self.sessions() as session, session.begin():
                    return await self.fold_in_transaction(session, events, offsets, expected)
        raise AssertionError("unreachable")  # pragma: no cover

    async def fold_in_transaction(
        self,
        session: AsyncSession,
        events: list[ParsedEvent],
        offsets: dict[int, int],
        expected: dict[int, int | None],
    ) -> BatchOutcome:
        """The body of the batch transaction: fold, write states, compare-and-set offsets."""
        store = PostgresProjection(session, table=self.table)

        async def erase(customer_id: str) -> list[str]:
            return await erase_customer(db_session=session, customer_id=customer_id)

        outcome = await apply_batch(
            store=store, events=events, now=self.clock(), rules=self.rules, erase=erase
        )
        await store.put_offsets(
            group=self.group, topic=self.topic, offsets=offsets, expected=expected
        )
        return outcome

    async def commit_to_kafka(self, offsets: dict[int, int]) -> None:
        """Mirror the database's offsets to Kafka so lag tools agree; a failure is harmless."""
        consumer = self._require_consumer()
        try:
            await consumer.commit(
                {
                    TopicPartition(self.topic, partition): offset
                    for partition, offset in offsets.items()
                }
            )
        except Exception as exc:  # the database is authoritative; next batch commits again
            logger.warning("kafka offset commit failed", extra={"error": type(exc).__name__})

    def _observe(self, events: list[ParsedEvent], outcome: BatchOutcome) -> None:
        service = self.settings.service_name
        for event_type, count in outcome.folded.items():
            EVENTS_FOLDED.labels(service, event_type).inc(count)
        if outcome.duplicates:
            EVENTS_DUPLICATE.labels(service).inc(outcome.duplicates)
        visible_at = utc_now()
        for parsed in events:
            FOLD_FRESHNESS.labels(service).observe(
                max(0.0, (visible_at - parsed.event.received_at).total_seconds())
            )

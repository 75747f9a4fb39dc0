"""The learner's Kafka loop: a batch, one transaction with its offsets, then a Kafka commit.

Exactly once: the state a batch produces and the next offsets are committed together in
PostgreSQL; on (re)assignment the consumer seeks to the offsets stored there. The Kafka
commit afterwards only keeps lag tools truthful; it is never what the learner resumes from.
Each batch also re-reads those offsets under a row lock and skips records below them, so a
consumer handed a stale position never applies a record twice. A response changes state only
while its offer has no outcome, so the same answer posted twice under two event ids is
learned once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from prometheus_client import Counter as MetricCounter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from touchpoint_common.db.errors import is_retryable
from touchpoint_common.events.codec import UndecodableEvent, decode_event
from touchpoint_common.kafka.consumer import create_consumer
from touchpoint_common.observability.metrics import EVENTS_CONSUMED
from touchpoint_recommend.learner.service import apply_event
from touchpoint_recommend.settings import RecommendSettings
from touchpoint_recommend.store.postgres import PostgresRecommendStore

logger = logging.getLogger(__name__)
LEARNED = MetricCounter(
    "touchpoint_recommend_learner_events_total",
    "Events the learner handled, by what they did (response, response_unmatched, ...).",
    ["result"],
)


class _SeekToStoredOffsets(ConsumerRebalanceListener):  # type: ignore[misc]
    """On assignment, resume from the offsets committed with the state in PostgreSQL."""

    def __init__(self, learner: Learner) -> None:
        self.learner = learner

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        """Nothing to flush: every batch is committed before the next poll."""

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        """Seek each assigned partition to its stored next offset, if any."""
        await self.learner.seek_to_stored(assigned)


class Learner:
    """Consumes the interactions topic and folds offer events into recommend's tables."""

    def __init__(
        self, settings: RecommendSettings, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.topic = settings.topic_interactions
        self.group = settings.learner_group
        self.consumer: AIOKafkaConsumer | None = None
        self.results: Counter[str] = Counter()
        self.kafka_pending: dict[int, int] = {}
        """Stored offsets Kafka has not been told yet (after an assignment)."""

    async def start(self) -> None:
        """Join the group; assignment triggers the seek to stored offsets."""
        self.consumer = create_consumer(self.settings, group_id=self.group)
        self.consumer.subscribe([self.topic], listener=_SeekToStoredOffsets(self))
        await self.consumer.start()

    async def stop(self) -> None:
        """Leave the group."""
        if self.consumer is not None:
            await self.consumer.stop()
            self.consumer = None

    async def seek_to_stored(self, assigned: Sequence[TopicPartition]) -> None:
        """Position the consumer where the database says the learner is."""
        assert self.consumer is not None
        async with self.sessions() as db_session:
            stored = await PostgresRecommendStore(db_session).get_offsets(
                group_id=self.group, topic=self.topic
            )
        for partition in assigned:
            if partition.topic != self.topic:
                continue
            if partition.partition in stored:
                self.consumer.seek(partition, stored[partition.partition])
                continue
            committed = await self.consumer.committed(partition)
            if committed is None:
                await self.consumer.seek_to_beginning(partition)
            else:
                self.consumer.seek(partition, committed)
        mine = {p.partition for p in assigned if p.topic == self.topic}
        # Committed from the poll loop, not inside the rebalance callback.
        self.kafka_pending = {p: o for p, o in stored.items() if p in mine}

    async def _apply(self, records: list[ConsumerRecord]) -> dict[int, int]:
        next_offsets: dict[int, int] = {}
        results: Counter[str] = Counter()
        async with self.sessions() as db_session, db_session.begin():
            store = PostgresRecommendStore(db_session)
            # Checked in the transaction that moves them: whatever position the consumer was
            # given (a reset, a zombie after a rebalance), a record is applied at most once.
            applied = await store.get_offsets(
                group_id=self.group, topic=self.topic, for_update=True
            )
            for record in records:
                if record.offset < applied.get(record.partition, 0):
                    results["already_applied"] += 1
                    continue
                next_offsets[record.partition] = record.offset + 1
                try:
                    event = decode_event(record.value)
                except UndecodableEvent:
                    results["undecodable"] += 1
                    continue
                results[await apply_event(store, event)] += 1
            await store.update_offsets(group_id=self.group, topic=self.topic, offsets=next_offsets)
        for result, count in results.items():
            LEARNED.labels(result).inc(count)
        self.results.update(results)
        return next_offsets

    async def process_batch(self, records: list[ConsumerRecord]) -> None:
        """Apply a batch and its offsets in one transaction (retried), then commit to Kafka."""
        if not records:
            return
        retrying = AsyncRetrying(
            retry=retry_if_exception(is_retryable),
            wait=wait_exponential(multiplier=0.1, max=5),
            stop=stop_after_attempt(8),
            reraise=True,
        )
        next_offsets: dict[int, int] = {}
        async for attempt in retrying:
            with attempt:
                next_offsets = await self._apply(records)
        EVENTS_CONSUMED.labels("recommend", self.group).inc(len(records))
        await self.commit_to_kafka(next_offsets)

    async def commit_to_kafka(self, next_offsets: dict[int, int]) -> None:
        """Tell Kafka where the database is, so lag tools agree (best effort)."""
        assert self.consumer is not None
        assigned = {tp.partition for tp in self.consumer.assignment() if tp.topic == self.topic}
        merged = {**self.kafka_pending, **next_offsets}
        pending = {p: offset for p, offset in merged.items() if p in assigned}
        if not pending:
            self.kafka_pending = {}
            return
        try:
            await self.consumer.commit(
                {TopicPartition(self.topic, p): offset for p, offset in pending.items()}
            )
        except KafkaError as exc:
            # The database holds the truth; a later poll catches Kafka up.
            logger.warning("kafka offset commit failed", extra={"error": type(exc).__name__})
            self.kafka_pending = pending
            return
        self.kafka_pending = {}

    async def poll_once(self) -> int:
        """Fetch and process one batch; the number of records handled."""
        assert self.consumer is not None
        batches = await self.consumer.getmany(
            timeout_ms=self.settings.learner_batch_timeout_ms,
            max_records=self.settings.learner_batch_max_records,
        )
        records = [record for partition in sorted(batches) for record in batches[partition]]
        await self.process_batch(records)
        if not records and self.kafka_pending:
            await self.commit_to_kafka({})
        return len(records)

    async def run(self) -> None:
        """Poll forever; cancel the task to stop."""
        while True:
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("learner batch failed; retrying from stored offsets")
                await asyncio.sleep(1)
                assert self.consumer is not None
                await self.seek_to_stored(list(self.consumer.assignment()))

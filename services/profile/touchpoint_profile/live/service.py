"""One reader of the interactions topic per process, fanning out to the open live feeds.

The reader has no consumer group (it commits nothing and takes every partition) and starts at
the end of the topic when the first feed opens. Records are keyed by the resolved customer id
(`touchpoint_common.events.codec.encode_key`), so only records whose key has a subscriber are
decoded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from prometheus_client import Gauge

from touchpoint_common.events.codec import UndecodableEvent, decode_event
from touchpoint_common.kafka.admin import get_topic_partitions
from touchpoint_common.kafka.consumer import create_consumer
from touchpoint_common.settings import CommonSettings
from touchpoint_common.tasks import stop_task
from touchpoint_profile.live.models import LiveInteraction

logger = logging.getLogger(__name__)
LIVE_FEEDS_OPEN = Gauge(
    "touchpoint_live_feeds_open", "Live feeds (server-sent event streams) open in this process."
)
READ_TIMEOUT_MS = 200
RETRY_AFTER_ERROR_S = 1.0


@dataclass(eq=False)
class Subscription:
    """One open feed: its customer and the queue of interactions not yet sent."""

    customer_id: str
    queue: asyncio.Queue[LiveInteraction]
    feed: LiveFeed = field(repr=False)

    def close(self) -> None:
        """Stop receiving (the feed forgets this subscriber)."""
        self.feed.unsubscribe(self)


class LiveFeed:
    """The process's one reader and its subscribers by customer id."""

    def __init__(self, settings: CommonSettings, *, queue_size: int) -> None:
        self._settings = settings
        self._queue_size = queue_size
        self._subscribers: dict[str, set[Subscription]] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()

    async def subscribe(self, customer_id: str) -> Subscription:
        """A subscription that receives every record written after this call returns."""
        await self._ensure_started()
        return self.add_subscriber(customer_id)

    def add_subscriber(self, customer_id: str) -> Subscription:
        """Register a feed for this customer (the reader must be running to fill it)."""
        subscription = Subscription(
            customer_id=customer_id, queue=asyncio.Queue(self._queue_size), feed=self
        )
        self._subscribers.setdefault(customer_id, set()).add(subscription)
        LIVE_FEEDS_OPEN.inc()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget a subscriber (idempotent)."""
        subscribers = self._subscribers.get(subscription.customer_id)
        if subscribers is None or subscription not in subscribers:
            return
        subscribers.discard(subscription)
        LIVE_FEEDS_OPEN.dec()
        if not subscribers:
            del self._subscribers[subscription.customer_id]

    def count_subscribers(self) -> int:
        """How many feeds are open in this process."""
        return sum(len(subscribers) for subscribers in self._subscribers.values())

    async def stop(self) -> None:
        """Stop the reader (open feeds then only send keep-alives until they close)."""
        if self._task is not None:
            await stop_task(self._task)
            self._task = None
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def _ensure_started(self) -> None:
        """Start the reader once, positioned at the end of every partition."""
        async with self._starting:
            if self._task is not None:
                return
            topic = self._settings.topic_interactions
            consumer = create_consumer(self._settings, group_id=None, auto_offset_reset="latest")
            await consumer.start()
            try:
                partitions = await get_topic_partitions(self._settings, topic)
                consumer.assign(partitions)
                await consumer.seek_to_end(*partitions)
                for partition in partitions:
                    await consumer.position(partition)
            except BaseException:
                await consumer.stop()
                raise
            self._consumer = consumer
            self._task = asyncio.create_task(self._read(consumer), name="profile-live-feed")

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        """Hand each record keyed by a subscribed customer to that customer's queues."""
        while True:
            try:
                batches = await consumer.getmany(timeout_ms=READ_TIMEOUT_MS)
            except Exception as exc:
                logger.warning("live feed read failed", extra={"error": type(exc).__name__})
                await asyncio.sleep(RETRY_AFTER_ERROR_S)
                continue
            for records in batches.values():
                for record in records:
                    self._deliver(record)

    def _deliver(self, record: ConsumerRecord) -> None:
        """Decode a record only when its customer has a subscriber, and queue it for each."""
        if record.key is None:
            return
        subscribers = self._subscribers.get(record.key.decode(errors="replace"))
        if not subscribers:
            return
        try:
            event = decode_event(record.value)
        except UndecodableEvent:
            return
        line = LiveInteraction(
            event_id=str(event.event_id),
            type=event.type.value,
            channel=event.channel.value,
            store_id=event.store_id,
            occurred_at=event.occurred_at,
        )
        for subscription in subscribers:
            _put_dropping_oldest(subscription.queue, line)


def _put_dropping_oldest(queue: asyncio.Queue[LiveInteraction], line: LiveInteraction) -> None:
    """Queue a line; a slow reader loses its oldest line (the page reloads the view anyway)."""
    if queue.full():
        with contextlib.suppress(asyncio.QueueEmpty):
            queue.get_nowait()
    queue.put_nowait(line)


def format_sse(line: LiveInteraction) -> str:
    """The server-sent-event frame of one line."""
    return f"id: {line.event_id}\nevent: interaction\ndata: {line.model_dump_json()}\n\n"

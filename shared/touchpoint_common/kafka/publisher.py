"""Producing with a deadline: every record acknowledged by the broker in time, or reported not.

A send that outlives its deadline is not withdrawn (Kafka clients cannot): the producer keeps
retrying it. A record with a `dedup_key` (an event's event_id) stays tracked while that send is
under way, so that a retry of the same key waits for it instead of writing a second copy, and
its late acknowledgement is reported to the caller.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from touchpoint_common.events.codec import build_headers, encode_event, encode_key
from touchpoint_common.events.models import InteractionEvent
from touchpoint_common.observability import tracing
from touchpoint_common.observability.metrics import PRODUCERS_REPLACED

logger = logging.getLogger(__name__)
Delivery = asyncio.Future[Any]
# How long a late-acknowledged send stays findable, so the caller can put it on record first.
LATE_MEMORY_S = 60.0


@dataclass(frozen=True, slots=True, kw_only=True)
class OutgoingRecord:
    """One record to write: where, key, value, headers; `dedup_key` makes retries share a send;
    `trace` is the context it belongs to (None: the current one when it is published)."""

    topic: str
    value: bytes | None
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    dedup_key: Hashable | None = None
    trace: tracing.TraceContext | None = field(default=None, compare=False)


LateAck = Callable[[OutgoingRecord], None]


class NotAcknowledged(TimeoutError):
    """The broker did not acknowledge every record by the deadline (it refused or is retrying)."""

    def __init__(self, acked: Sequence[bool]) -> None:
        missing = sum(1 for ok in acked if not ok)
        super().__init__(f"{missing} of {len(acked)} records not acknowledged in time")
        self.acked = list(acked)


def event_record(
    event: InteractionEvent, *, topic: str, trace: tracing.TraceContext | None = None
) -> OutgoingRecord:
    """An InteractionEvent as its wire record, deduplicated by event_id."""
    return OutgoingRecord(
        topic=topic,
        key=encode_key(event),
        value=encode_event(event),
        headers=tuple(build_headers(event)),
        dedup_key=event.event_id,
        trace=trace,
    )


def get_wire_headers(record: OutgoingRecord) -> list[tuple[str, bytes]]:
    """The record's headers plus its trace context as W3C `traceparent` / `tracestate` (when
    tracing is on); a record that carries a traceparent already (a dead letter keeps its
    original's) is sent as it is. The one place trace headers are written."""
    headers = list(record.headers)
    if not tracing.is_enabled() or any(name == "traceparent" for name, _ in headers):
        return headers
    carrier = tracing.inject(record.trace)
    return headers + [(name, value.encode()) for name, value in carrier.items()]


class Publisher:
    """Sends records in order and waits for the broker's acknowledgements until a deadline."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self.inflight: dict[Hashable, Delivery] = {}
        self._late_watched: set[Hashable] = set()
        self._started: dict[int, float] = {}
        """id(delivery) -> loop time the send began, while it is not settled."""
        self._failing_since: float | None = None
        """Loop time of the first failed send since the last acknowledged one."""

    def get_oldest_pending_s(self) -> float:
        """How long the oldest send still waiting for the broker has waited (0: none waits)."""
        if not self._started:
            return 0.0
        return asyncio.get_running_loop().time() - min(self._started.values())

    def get_stall_s(self) -> float:
        """How long sending has been stuck: the oldest pending send's wait, or the time since
        sends began failing with none acknowledged since (0: sending works)."""
        failing = 0.0
        if self._failing_since is not None:
            failing = asyncio.get_running_loop().time() - self._failing_since
        return max(self.get_oldest_pending_s(), failing)

    def replace_producer(self, producer: AIOKafkaProducer) -> AIOKafkaProducer:
        """Send through `producer` from now on; the old one is returned for the caller to stop.
        Sends still waiting on the old one are no longer counted as pending here."""
        old, self.producer = self.producer, producer
        self._started.clear()
        self._failing_since = None
        return old

    async def publish(
        self,
        records: Sequence[OutgoingRecord],
        *,
        timeout_s: float,
        on_late_ack: LateAck | None = None,
    ) -> list[bool]:
        """True per record acknowledged in time; `on_late_ack` hears of the others' success."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        deliveries: list[Delivery] = []

        async def enqueue() -> None:
            for record in records:
                deliveries.append(await self._deliver(record))

        try:
            await asyncio.wait_for(enqueue(), timeout=timeout_s)
        except (TimeoutError, KafkaError) as exc:
            logger.warning("broker did not take the records", extra={"error": type(exc).__name__})
        if deliveries:
            await asyncio.wait(deliveries, timeout=max(0.0, deadline - loop.time()))
        acked = [_succeeded(delivery) for delivery in deliveries]
        for record, delivery in zip(records, deliveries, strict=False):
            track = _track_key(record, delivery)
            if not delivery.done() and track not in self._late_watched:
                self._late_watched.add(track)
                delivery.add_done_callback(partial(self._late, record, track, on_late_ack))
        return acked + [False] * (len(records) - len(deliveries))

    async def publish_all(self, records: Sequence[OutgoingRecord], *, timeout_s: float) -> None:
        """Return once every record is acknowledged; raise NotAcknowledged at the deadline."""
        acked = await self.publish(records, timeout_s=timeout_s)
        if not all(acked):
            raise NotAcknowledged(acked)

    async def _deliver(self, record: OutgoingRecord) -> Delivery:
        """The send still under way (or late-acknowledged) for this dedup_key, or a new one."""
        earlier = self.inflight.get(record.dedup_key) if record.dedup_key is not None else None
        if earlier is not None and (not earlier.done() or _succeeded(earlier)):
            return earlier
        delivery: Delivery = await self.producer.send(
            record.topic, value=record.value, key=record.key, headers=get_wire_headers(record)
        )
        track = _track_key(record, delivery)
        if record.dedup_key is not None:
            self.inflight[track] = delivery
        self._started[id(delivery)] = asyncio.get_running_loop().time()
        delivery.add_done_callback(partial(self._settled, track))
        return delivery

    def _settled(self, track: Hashable, delivery: Delivery) -> None:
        """Forget a finished send, unless a late success must stay findable for retries."""
        self._started.pop(id(delivery), None)
        if _succeeded(delivery):
            self._failing_since = None
        elif self._failing_since is None:
            self._failing_since = asyncio.get_running_loop().time()
        if not delivery.cancelled():
            delivery.exception()  # retrieved, so asyncio does not log it as forgotten
        if not _succeeded(delivery) or track not in self._late_watched:
            self._forget(track, delivery)

    def _late(
        self,
        record: OutgoingRecord,
        track: Hashable,
        on_late_ack: LateAck | None,
        delivery: Delivery,
    ) -> None:
        """A send that missed its deadline has finished: report its success."""
        self._late_watched.discard(track)
        if _succeeded(delivery):
            if on_late_ack is not None:
                on_late_ack(record)
            # Until the late acknowledgement is on record, a retry must find this delivery.
            loop = asyncio.get_running_loop()
            loop.call_later(LATE_MEMORY_S, self._forget, track, delivery)

    def _forget(self, track: Hashable, delivery: Delivery) -> None:
        """Drop the tracked send for this key, if it is still this one."""
        if self.inflight.get(track) is delivery:
            del self.inflight[track]


def _track_key(record: OutgoingRecord, delivery: Delivery) -> Hashable:
    """What a send is tracked by: its dedup_key, or the send itself when it has none."""
    return record.dedup_key if record.dedup_key is not None else id(delivery)


def _succeeded(delivery: Delivery) -> bool:
    """Done, not cancelled, and without an exception: the broker acknowledged it."""
    return delivery.done() and not delivery.cancelled() and delivery.exception() is None


ProducerFactory = Callable[[], Awaitable[AIOKafkaProducer]]


async def watch_producer(
    publisher: Publisher,
    *,
    create: ProducerFactory,
    stall_s: float,
    on_replaced: Callable[[AIOKafkaProducer], None],
    check_every_s: float = 1.0,
    stop_old_within_s: float = 10.0,
    create_within_s: float = 10.0,
) -> None:
    """Replace the publisher's producer when sending has been stuck for `stall_s`: a send has
    waited that long for the broker, or every send has failed for that long.

    After some broker restarts an idempotent aiokafka producer stops completing sends for good
    while the broker itself answers (seen under `make chaos`): without this, every request
    would be refused until the process is restarted. A fresh producer, with a fresh producer
    id, sends again; a record the old one still delivers late is a duplicate the consumers
    drop by event_id. Runs until cancelled.
    """
    while True:
        await asyncio.sleep(check_every_s)
        waited = publisher.get_stall_s()
        if waited < stall_s:
            continue
        logger.error("producer stalled; replacing it", extra={"oldest_pending_s": round(waited, 1)})
        try:
            # A producer's start() can wait for a broker that is down: try again next round.
            fresh = await asyncio.wait_for(create(), timeout=create_within_s)
        except (TimeoutError, KafkaError, OSError) as exc:
            logger.warning("no new producer yet", extra={"error": type(exc).__name__})
            continue
        old = publisher.replace_producer(fresh)
        on_replaced(fresh)
        PRODUCERS_REPLACED.inc()
        asyncio.get_running_loop().create_task(_stop_quietly(old, within_s=stop_old_within_s))


async def _stop_quietly(producer: AIOKafkaProducer, *, within_s: float) -> None:
    """Stop a replaced producer, giving up after `within_s` (it may be wedged)."""
    try:
        await asyncio.wait_for(producer.stop(), timeout=within_s)
    except Exception as exc:  # a wedged producer may fail to stop in any way; it is dropped
        logger.warning("replaced producer did not stop cleanly", extra={"error": repr(exc)})

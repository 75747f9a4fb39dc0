"""Producing InteractionEvents with a deadline: acknowledged by the broker, or reported not.

A send that outlives its deadline is not withdrawn (Kafka clients cannot): the producer keeps
retrying it. It stays tracked here, so that a client's retry of the same event_id waits for that
send instead of writing a second copy, and its late acknowledgement is reported to the caller.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from touchpoint_common.events.codec import build_headers, encode_event, encode_key
from touchpoint_common.events.models import InteractionEvent

logger = logging.getLogger(__name__)
LateAck = Callable[[InteractionEvent], None]
Delivery = asyncio.Future[Any]
LATE_MEMORY_S = 60.0


class Publisher:
    """Sends events in order and waits for the broker's acknowledgement until a deadline."""

    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self.producer = producer
        self.topic = topic
        self.inflight: dict[UUID, Delivery] = {}
        self._late_watched: set[UUID] = set()

    async def publish(
        self, events: Sequence[InteractionEvent], *, timeout_s: float, on_late_ack: LateAck
    ) -> list[bool]:
        """True per event acknowledged in time; `on_late_ack` hears of the others' success."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        deliveries: list[Delivery] = []

        async def enqueue() -> None:
            for event in events:
                deliveries.append(await self._deliver(event))

        try:
            await asyncio.wait_for(enqueue(), timeout=timeout_s)
        except (TimeoutError, KafkaError) as exc:
            logger.warning("broker did not take the events", extra={"error": type(exc).__name__})
        if deliveries:
            await asyncio.wait(deliveries, timeout=max(0.0, deadline - loop.time()))
        acked = [_succeeded(delivery) for delivery in deliveries]
        for event, delivery in zip(events, deliveries, strict=False):
            if not delivery.done() and event.event_id not in self._late_watched:
                self._late_watched.add(event.event_id)
                delivery.add_done_callback(partial(self._late, event, on_late_ack))
        return acked + [False] * (len(events) - len(deliveries))

    async def _deliver(self, event: InteractionEvent) -> Delivery:
        """The send still under way for this event_id, or a new one."""
        earlier = self.inflight.get(event.event_id)
        if earlier is not None and (not earlier.done() or _succeeded(earlier)):
            return earlier
        value, key, headers = encode_event(event), encode_key(event), build_headers(event)
        delivery: Delivery = await self.producer.send(
            self.topic, value=value, key=key, headers=headers
        )
        self.inflight[event.event_id] = delivery
        delivery.add_done_callback(partial(self._settled, event.event_id))
        return delivery

    def _settled(self, event_id: UUID, delivery: Delivery) -> None:
        if not delivery.cancelled():
            delivery.exception()  # retrieved, so asyncio does not log it as forgotten
        if not _succeeded(delivery) or event_id not in self._late_watched:
            self._forget(event_id, delivery)

    def _late(self, event: InteractionEvent, on_late_ack: LateAck, delivery: Delivery) -> None:
        self._late_watched.discard(event.event_id)
        if _succeeded(delivery):
            on_late_ack(event)
            # Until the late acknowledgement is on record, a retry must find this delivery.
            loop = asyncio.get_running_loop()
            loop.call_later(LATE_MEMORY_S, self._forget, event.event_id, delivery)

    def _forget(self, event_id: UUID, delivery: Delivery) -> None:
        if self.inflight.get(event_id) is delivery:
            del self.inflight[event_id]


def _succeeded(delivery: Delivery) -> bool:
    return delivery.done() and not delivery.cancelled() and delivery.exception() is None

"""Producing InteractionEvents with a deadline: acknowledged by the broker, or reported not."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from touchpoint_common.events.codec import build_headers, encode_event, encode_key
from touchpoint_common.events.models import InteractionEvent

logger = logging.getLogger(__name__)


async def produce_events(
    *,
    producer: AIOKafkaProducer,
    topic: str,
    events: Sequence[InteractionEvent],
    timeout_s: float,
) -> list[bool]:
    """Send in order and wait for acknowledgements until the deadline; True per acked event."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    futures: list[asyncio.Future[Any]] = []

    async def enqueue() -> None:
        for event in events:
            future = await producer.send(
                topic,
                value=encode_event(event),
                key=encode_key(event),
                headers=build_headers(event),
            )
            future.add_done_callback(_consume_exception)
            futures.append(future)

    try:
        await asyncio.wait_for(enqueue(), timeout=timeout_s)
    except (TimeoutError, KafkaError) as exc:
        logger.warning("broker did not take the events", extra={"error": type(exc).__name__})
    if futures:
        await asyncio.wait(futures, timeout=max(0.0, deadline - loop.time()))
    acked = [
        future.done() and not future.cancelled() and future.exception() is None
        for future in futures
    ]
    return acked + [False] * (len(events) - len(futures))


def _consume_exception(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()

"""Reading back what a test wrote to a topic, and waiting for a consumer to commit it all."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import ConsumerRecord

from touchpoint_common.kafka.consumer import create_consumer
from touchpoint_common.settings import CommonSettings
from touchpoint_common.tracking.consumer import TrackedConsumer
from touchpoint_common.tracking.offsets import OffsetConflict


async def read_first_record(
    settings: CommonSettings, topic: str, *, timeout_s: float = 20
) -> ConsumerRecord[bytes, bytes]:
    """The first record of `topic` (a group-less reader from the log's start)."""
    reader = create_consumer(settings, topic, group_id=None)
    await reader.start()
    try:
        async with asyncio.timeout(timeout_s):
            record: ConsumerRecord[bytes, bytes] = await reader.getone()
            return record
    finally:
        await reader.stop()


async def is_caught_up(consumer: TrackedConsumer[Any, Any]) -> bool:
    """Assigned, and the stored position of every assigned partition is at its log end."""
    kafka = consumer.consumer
    if kafka is None or not kafka.assignment():
        return False
    assigned = list(kafka.assignment())
    if any(tp.partition not in consumer.positions for tp in assigned):
        return False
    ends = await kafka.end_offsets(assigned)
    return all((consumer.positions[tp.partition] or 0) >= ends[tp] for tp in assigned)


async def drain(consumer: TrackedConsumer[Any, Any], *, timeout_s: float = 30) -> int:
    """Poll (re-seeking on a conflict, as run() does) until every record in the log when
    the consumer went idle is committed; returns the records read."""
    total = 0
    async with asyncio.timeout(timeout_s):
        while True:
            try:
                read = await consumer.poll_once()
            except OffsetConflict:
                await consumer.reseek()
                continue
            total += read
            if read == 0 and await is_caught_up(consumer):
                return total

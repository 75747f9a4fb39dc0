"""Reading back what a test wrote to a topic, on the real broker."""

from __future__ import annotations

import asyncio

from aiokafka import ConsumerRecord

from touchpoint_common.kafka.consumer import create_consumer
from touchpoint_common.settings import CommonSettings


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

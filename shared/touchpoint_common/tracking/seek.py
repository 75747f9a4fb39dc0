"""Where a window starts in the log: the first offset at or after a moment, per partition."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition


async def seek_since(
    consumer: AIOKafkaConsumer, partitions: Iterable[TopicPartition], since: datetime | None
) -> dict[TopicPartition, int]:
    """Seek each partition to its first record at or after `since` (None: the log's start)."""
    wanted = list(partitions)
    if not wanted:
        return {}
    if since is None:
        starts: dict[TopicPartition, int] = await consumer.beginning_offsets(wanted)
    else:
        # End offsets first: a record written after this is newer than `since`, so either
        # offsets_for_times finds it or it lies at or after this end. seek_to_end() instead
        # would race with producers and skip what arrived in between.
        ends = await consumer.end_offsets(wanted)
        found = await consumer.offsets_for_times(
            {tp: int(since.timestamp() * 1000) for tp in wanted}
        )
        starts = {tp: ends[tp] if found.get(tp) is None else found[tp].offset for tp in wanted}
    for tp, offset in starts.items():
        consumer.seek(tp, offset)
    return starts

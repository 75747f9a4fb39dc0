"""Producer factory."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from touchpoint_common.kafka.configuration import get_producer_config
from touchpoint_common.settings import CommonSettings


def create_producer(settings: CommonSettings) -> AIOKafkaProducer:
    """An idempotent acks=all producer; call `await producer.start()` before use."""
    return AIOKafkaProducer(**get_producer_config(settings))


async def start_producer(settings: CommonSettings) -> AIOKafkaProducer:
    """A started producer; one that fails to start (or is cancelled starting) is closed."""
    producer = create_producer(settings)
    try:
        await producer.start()
    except BaseException:
        await producer.stop()
        raise
    return producer

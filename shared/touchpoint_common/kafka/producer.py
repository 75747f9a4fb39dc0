"""Producer factory."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from touchpoint_common.kafka.configuration import get_producer_config
from touchpoint_common.settings import CommonSettings


def create_producer(settings: CommonSettings) -> AIOKafkaProducer:
    """An idempotent acks=all producer; call `await producer.start()` before use."""
    return AIOKafkaProducer(**get_producer_config(settings))

"""Consumer factory."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer

from touchpoint_common.kafka.configuration import get_consumer_config
from touchpoint_common.settings import CommonSettings


def create_consumer(
    settings: CommonSettings, *topics: str, group_id: str | None, **overrides: Any
) -> AIOKafkaConsumer:
    """A manual-commit consumer; call `await consumer.start()` before use."""
    config = get_consumer_config(settings, group_id=group_id)
    config.update(overrides)
    return AIOKafkaConsumer(*topics, **config)

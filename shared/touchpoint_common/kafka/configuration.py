"""Client configuration derived from CommonSettings, with production defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from touchpoint_common.settings import CommonSettings


@dataclass(frozen=True, kw_only=True)
class TopicSpec:
    """A topic the system owns: created at start-up when missing."""

    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str]


def get_producer_config(settings: CommonSettings) -> dict[str, Any]:
    """Idempotent, acks=all, compressed: a 2xx from ingest means the event is durable."""
    return {
        "bootstrap_servers": settings.kafka_bootstrap,
        "client_id": f"{settings.service_name}-producer",
        "acks": "all",
        "enable_idempotence": True,
        "compression_type": settings.kafka_compression,
        "linger_ms": 5,
        "request_timeout_ms": settings.kafka_request_timeout_ms,
        "max_batch_size": 256 * 1024,
    }


def get_consumer_config(settings: CommonSettings, *, group_id: str | None) -> dict[str, Any]:
    """Manual commits and read_committed: the caller decides when an offset is done."""
    return {
        "bootstrap_servers": settings.kafka_bootstrap,
        "client_id": f"{settings.service_name}-consumer",
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
        "max_poll_records": 500,
        "request_timeout_ms": max(settings.kafka_request_timeout_ms, 40000),
    }


def get_topic_specs(settings: CommonSettings) -> list[TopicSpec]:
    """The interactions topic and its dead-letter topic."""
    retention = {"retention.ms": str(settings.topic_retention_ms)}
    return [
        TopicSpec(
            name=settings.topic_interactions,
            partitions=settings.topic_partitions,
            replication_factor=settings.topic_replication_factor,
            config=retention,
        ),
        TopicSpec(
            name=settings.topic_dead_letter,
            partitions=1,
            replication_factor=settings.topic_replication_factor,
            config=retention,
        ),
    ]

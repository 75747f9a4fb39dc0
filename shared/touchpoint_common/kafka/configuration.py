"""Client configuration derived from CommonSettings, with production defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiokafka.helpers import create_ssl_context

from touchpoint_common.settings import CommonSettings


@dataclass(frozen=True, kw_only=True)
class TopicSpec:
    """A topic the system owns: created at start-up when missing."""

    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str]


def get_security_config(settings: CommonSettings) -> dict[str, Any]:
    """TLS and SASL options shared by every Kafka client (producer, consumer, admin)."""
    protocol = settings.kafka_security_protocol
    config: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        context = create_ssl_context(
            cafile=settings.kafka_ssl_cafile,
            certfile=settings.kafka_ssl_certfile,
            keyfile=settings.kafka_ssl_keyfile,
        )
        context.check_hostname = settings.kafka_ssl_check_hostname
        config["ssl_context"] = context
    if protocol.startswith("SASL"):
        password = settings.kafka_sasl_password
        config.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=password.get_secret_value() if password else None,
        )
    return config


def get_producer_config(settings: CommonSettings) -> dict[str, Any]:
    """Idempotent, acks=all, compressed: a 2xx from ingest means the event is durable."""
    return {
        **get_security_config(settings),
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
        **get_security_config(settings),
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
    """The interactions topic, its dead-letter topic and the rankings topic."""
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
        TopicSpec(
            name=settings.topic_rankings,
            partitions=1,
            replication_factor=settings.topic_replication_factor,
            config={"cleanup.policy": "compact"},
        ),
    ]


CLOSE_BUDGET_S = 10.0
"""How long shutdown waits for a Kafka client to close: aiokafka's can wait out a full
request timeout (40 s) against a broker that has just restarted."""

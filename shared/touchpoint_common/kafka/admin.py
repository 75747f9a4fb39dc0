"""Topic creation and broker reachability."""

from __future__ import annotations

import logging

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from touchpoint_common.kafka.configuration import TopicSpec, get_security_config, get_topic_specs
from touchpoint_common.settings import CommonSettings

logger = logging.getLogger(__name__)


def create_admin(settings: CommonSettings) -> AIOKafkaAdminClient:
    """An admin client; call `await admin.start()` before use."""
    return AIOKafkaAdminClient(
        **get_security_config(settings),
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=f"{settings.service_name}-admin",
        request_timeout_ms=max(settings.kafka_request_timeout_ms, 10000),
    )


async def get_topic_partitions(settings: CommonSettings, topic: str) -> list[TopicPartition]:
    """Every partition of `topic`, asked of the broker (RuntimeError when it has none)."""
    admin = create_admin(settings)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    found = [p["partition"] for t in described for p in t.get("partitions", ())]
    if not found:
        raise RuntimeError(f"topic {topic} has no partitions")
    return [TopicPartition(topic, p) for p in sorted(found)]


async def create_topics(settings: CommonSettings, specs: list[TopicSpec] | None = None) -> None:
    """Create the system's topics when missing; existing topics are left as they are."""
    wanted = specs if specs is not None else get_topic_specs(settings)
    admin = create_admin(settings)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [spec for spec in wanted if spec.name not in existing]
        if not missing:
            return
        new_topics = [
            NewTopic(
                name=spec.name,
                num_partitions=spec.partitions,
                replication_factor=spec.replication_factor,
                topic_configs=spec.config,
            )
            for spec in missing
        ]
        try:
            await admin.create_topics(new_topics)
        except TopicAlreadyExistsError:
            logger.info("topics created concurrently by another replica")
        logger.info("topics created", extra={"topics": [spec.name for spec in missing]})
    finally:
        await admin.close()


async def check_broker(settings: CommonSettings) -> None:
    """Raise when the broker cannot answer a metadata request."""
    admin = create_admin(settings)
    await admin.start()
    try:
        await admin.list_topics()
    finally:
        await admin.close()

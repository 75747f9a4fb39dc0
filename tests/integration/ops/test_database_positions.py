"""A group that keeps its position in PostgreSQL (profile) reports that position: the database,
our lag figures and Kafka's own consumer-groups tool agree."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.conftest import report
from tests.integration.profile.conftest import make_profile_settings
from tests.integration.profile.test_consumer import db_offsets, purchases
from tests.integration.records import drain
from touchpoint_common.db.engine import create_engine, create_session_factory
from touchpoint_common.events.codec import build_headers, encode_event, encode_key
from touchpoint_common.events.models import InteractionEvent
from touchpoint_common.kafka.admin import create_topics
from touchpoint_common.kafka.producer import create_producer
from touchpoint_common.ops.collector import LagCollector
from touchpoint_common.ops.describe_table import parse_describe_table
from touchpoint_common.settings import CommonSettings
from touchpoint_devtools.devservers.kafka import run_kafka_tool
from touchpoint_profile.consumer.runner import ProfileConsumer

pytestmark = pytest.mark.integration


async def test_profile_group_lag_is_measured_from_its_database_position(
    settings: CommonSettings,
) -> None:
    """Fold some events, stop the consumer, produce a backlog: per partition, lag equals the
    log end minus the offset stored with the projection, and the official tool says the same."""
    profile_settings = make_profile_settings(settings)
    await create_topics(profile_settings)
    topic = profile_settings.topic_interactions
    engine = create_engine(profile_settings)
    sessions = create_session_factory(engine)
    producer = create_producer(profile_settings)
    await producer.start()

    async def produce(events: list[InteractionEvent]) -> set[int]:
        partitions = set()
        for event in events:
            metadata = await producer.send_and_wait(
                topic,
                key=encode_key(event),
                value=encode_event(event),
                headers=build_headers(event),
            )
            partitions.add(metadata.partition)
        return partitions

    try:
        # Folded events on every partition, so each has a stored position to measure from.
        folded, covered = 0, set[int]()
        while covered != set(range(profile_settings.topic_partitions)):
            covered |= await produce(purchases(f"ops-{uuid.uuid4().hex[:6]}", 2))
            folded += 2
        consumer = ProfileConsumer(profile_settings, sessions=sessions, producer=producer)
        await consumer.start()
        try:
            await drain(consumer)
        finally:
            await consumer.stop()
        for index in range(3):
            await produce(purchases(f"ops-{uuid.uuid4().hex[:6]}", index + 2))
        stored = await db_offsets(sessions, profile_settings)
        collector = LagCollector(bootstrap=profile_settings.kafka_bootstrap)
        try:
            lag_report = await collector.collect([profile_settings.consumer_group])
        finally:
            await collector.close()
        tool_output = await asyncio.to_thread(
            run_kafka_tool,
            "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
            "--bootstrap-server",
            profile_settings.kafka_bootstrap,
            "--describe",
            "--group",
            profile_settings.consumer_group,
        )
    finally:
        await producer.stop()
        await engine.dispose()

    group = lag_report.get_group(profile_settings.consumer_group)
    assert group is not None
    ours = {p.partition: (p.committed, p.lag) for p in group.partitions if p.topic == topic}
    rows = [row for row in parse_describe_table(tool_output) if row.topic == topic]
    official = {row.partition: (row.current_offset, row.lag) for row in rows}
    log_ends = {row.partition: row.log_end_offset or 0 for row in rows}
    from_database = {
        partition: (offset, log_ends[partition] - offset) for partition, offset in stored.items()
    }
    assert sum(stored.values()) == folded
    assert group.sum_lag == 9
    assert ours == from_database
    assert official == from_database, tool_output
    report(f"ops: profile group position in PostgreSQL = ours = official tool: {from_database}")

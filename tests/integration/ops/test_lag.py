"""Consumer lag against the real broker, checked against Kafka's own consumer-groups tool."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import report
from tests.integration.ops.apps import create_ops_app, serve
from touchpoint_common.kafka.admin import create_topics
from touchpoint_common.kafka.configuration import TopicSpec
from touchpoint_common.kafka.producer import create_producer
from touchpoint_common.ops.collector import LagCollector
from touchpoint_common.ops.describe_table import parse_describe_table
from touchpoint_common.ops.settings import OpsSettings
from touchpoint_common.settings import CommonSettings
from touchpoint_devtools.devservers.kafka import run_kafka_tool

pytestmark = pytest.mark.integration

CONSUMER_GROUP_COMMAND = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
PRODUCED = {0: 7, 1: 5, 2: 4}  # N per partition
COMMITTED = {0: 3, 1: 5}  # M per partition; partition 2 never commits


async def _make_topic(settings: CommonSettings, partitions: int) -> str:
    name = f"ops-lag-{uuid.uuid4().hex[:8]}"
    spec = TopicSpec(name=name, partitions=partitions, replication_factor=1, config={})
    await create_topics(settings, [spec])
    return name


async def _produce(settings: CommonSettings, topic: str, counts: dict[int, int]) -> None:
    producer = create_producer(settings)
    await producer.start()
    try:
        for partition, count in counts.items():
            for index in range(count):
                await producer.send_and_wait(
                    topic, f"{partition}-{index}".encode(), partition=partition
                )
    finally:
        await producer.stop()


async def _join_group(settings: CommonSettings, topic: str, group: str) -> AIOKafkaConsumer:
    """A live member of `group` that owns every partition of `topic` and has committed nothing."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=30000,
    )
    await consumer.start()
    for _ in range(150):  # the first rebalance takes a few seconds
        if len(consumer.assignment()) == len(PRODUCED):
            break
        await asyncio.sleep(0.2)
    assert len(consumer.assignment()) == len(PRODUCED), "group never got its partitions"
    consumer.pause(*consumer.assignment())
    return consumer


def _ops_app(settings: CommonSettings, group: str) -> FastAPI:
    ops = OpsSettings(lag_groups=[group], lag_interval_s=3600, lag_timeout_s=10)
    return create_ops_app(settings.model_copy(update={"service_name": "ops-test"}), ops)


def _metric_values(text: str, name: str, group: str) -> dict[str, float]:
    return {
        sample.labels.get("partition", ""): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and sample.labels.get("group") == group
    }


async def test_lag_equals_backlog_and_the_official_tool(settings: CommonSettings) -> None:
    """Produce N, commit M per partition: lag is N - M everywhere we expose it, "-" stays "-",
    and every figure equals kafka-consumer-groups --describe for the same group and moment."""
    topic = await _make_topic(settings, partitions=len(PRODUCED))
    group = f"ops-test-{uuid.uuid4().hex[:8]}"
    await _produce(settings, topic, PRODUCED)
    consumer = await _join_group(settings, topic, group)
    try:
        await consumer.commit(
            {TopicPartition(topic, partition): offset for partition, offset in COMMITTED.items()}
        )
        collector = LagCollector(bootstrap=settings.kafka_bootstrap)
        try:
            lag_report = await collector.collect([group])
        finally:
            await collector.close()
        tool_output = await asyncio.to_thread(
            run_kafka_tool,
            CONSUMER_GROUP_COMMAND,
            "--bootstrap-server",
            settings.kafka_bootstrap,
            "--describe",
            "--group",
            group,
        )
        official = parse_describe_table(tool_output)

        app = _ops_app(settings, group)
        async with serve(app) as client:
            body = await client.get("/v1/ops/lag", params={"group": group, "refresh": "true"})
            assert body.status_code == 200, body.text
            lag_json = body.json()
            metrics_text = (await client.get("/metrics")).text
            unwatched = await client.get("/v1/ops/lag", params={"group": "not-watched"})
    finally:
        await consumer.stop()

    group_lag = lag_report.get_group(group)
    assert group_lag is not None
    assert group_lag.state == "Stable"
    ours = {
        entry.partition: (entry.committed, entry.log_end, entry.lag)
        for entry in group_lag.partitions
    }
    expected = {
        partition: (
            COMMITTED.get(partition),
            count,
            count - COMMITTED[partition] if partition in COMMITTED else None,
        )
        for partition, count in PRODUCED.items()
    }
    assert ours == expected
    assert {
        row.partition: (row.current_offset, row.log_end_offset, row.lag)
        for row in official
        if row.topic == topic
    } == expected, tool_output
    assert group_lag.sum_lag == 4
    report(f"ops: lag of {group} equals kafka-consumer-groups --describe: {sorted(ours.items())}")
    assert group_lag.uncommitted_partitions == 1

    assert unwatched.status_code == 404
    assert "not-watched" in unwatched.json()["detail"]
    [json_group] = lag_json["groups"]
    assert {
        p["partition"]: (p["current_offset"], p["log_end_offset"], p["lag"])
        for p in json_group["partitions"]
    } == expected
    assert (json_group["sum_lag"], json_group["max_lag"]) == (4, 4)

    assert _metric_values(metrics_text, "kafka_consumergroup_group_lag", group) == {
        "0": 4.0,
        "1": 0.0,
    }
    assert _metric_values(metrics_text, "kafka_consumergroup_group_sum_lag", group) == {"": 4.0}
    assert _metric_values(metrics_text, "kafka_consumergroup_group_max_lag", group) == {"": 4.0}
    pool = {
        sample.name: sample.value
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
        if sample.labels.get("service") == "ops-test"
        and sample.name.startswith("touchpoint_db_pool")
    }
    assert pool["touchpoint_db_pool_size"] == settings.database_pool_size
    assert 0 <= pool["touchpoint_db_pool_checked_out"] <= 2 * settings.database_pool_size
    seconds = _metric_values(metrics_text, "kafka_consumergroup_group_lag_seconds", group)
    assert set(seconds) == {"0", "1"}
    assert seconds["1"] == 0.0
    assert seconds["0"] > 0.0


async def test_time_lag_grows_while_the_consumer_is_paused(settings: CommonSettings) -> None:
    """With the group stopped, the oldest unread record ages: time lag rises by the wait, and
    falls to 0 once the group commits the log end."""
    topic = await _make_topic(settings, partitions=1)
    group = f"ops-paused-{uuid.uuid4().hex[:8]}"
    tp = TopicPartition(topic, 0)
    await _produce(settings, topic, {0: 3})
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    collector = LagCollector(bootstrap=settings.kafka_bootstrap)
    try:
        consumer.assign([tp])
        await consumer.commit({tp: 1})
        produced_before = time.time()
        await _produce(settings, topic, {0: 2})
        first_started = time.time()
        first = (await collector.collect([group])).get_group(group)
        await asyncio.sleep(2.5)
        second = (await collector.collect([group])).get_group(group)
        assert first is not None
        assert second is not None
        [before], [after] = first.partitions, second.partitions
        assert (before.lag, after.lag) == (4, 4)
        assert before.lag_seconds is not None
        assert after.lag_seconds is not None
        # The oldest unread record (offset 1) was written before produced_before.
        assert before.lag_seconds >= first_started - produced_before - 0.01
        assert after.lag_seconds - before.lag_seconds >= 2.0
        await consumer.commit({tp: 5})
        caught_up = (await collector.collect([group])).get_group(group)
        assert caught_up is not None
        assert [(p.lag, p.lag_seconds) for p in caught_up.partitions] == [(0, 0.0)]
    finally:
        await collector.close()
        await consumer.stop()


async def test_discovery_lists_every_group_and_survives_deleted_topics(
    settings: CommonSettings,
) -> None:
    """With no group list, every group on the broker is reported; offsets a group left on a
    deleted topic are skipped instead of stalling the whole collection."""
    kept, dropped = await _make_topic(settings, 2), await _make_topic(settings, 1)
    group = f"ops-discover-{uuid.uuid4().hex[:8]}"
    await _produce(settings, kept, {0: 3, 1: 2})
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        positions = {TopicPartition(kept, 0): 1, TopicPartition(dropped, 0): 0}
        consumer.assign(list(positions))
        await consumer.commit(positions)
    finally:
        await consumer.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([dropped])
    finally:
        await admin.close()
    collector = LagCollector(bootstrap=settings.kafka_bootstrap)
    try:
        started = time.monotonic()
        lag_report = await collector.collect(None)
        seconds = time.monotonic() - started
    finally:
        await collector.close()
    group_lag = lag_report.get_group(group)
    assert group_lag is not None
    assert [(p.topic, p.partition, p.lag) for p in group_lag.partitions] == [(kept, 0, 2)]
    report(
        f"ops: discovered {len(lag_report.groups)} groups on the broker in {seconds:.2f}s "
        f"({sum(len(g.partitions) for g in lag_report.groups)} partitions)"
    )


async def test_cli_prints_the_same_figures_as_json(settings: CommonSettings) -> None:
    """`python -m touchpoint_common.ops.cli lag --json --group G` reads the broker and reports
    N - M where the group committed; like the official tool, a partition an empty group never
    committed on is not listed."""
    topic = await _make_topic(settings, partitions=2)
    group = f"ops-cli-{uuid.uuid4().hex[:8]}"
    await _produce(settings, topic, {0: 6, 1: 2})
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0)])
        await consumer.commit({TopicPartition(topic, 0): 4})
    finally:
        await consumer.stop()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "touchpoint_common.ops.cli",
        "lag",
        "--json",
        "--group",
        group,
        "--bootstrap",
        settings.kafka_bootstrap,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    [printed] = json.loads(stdout)["groups"]
    assert printed["group"] == group
    assert [(p["partition"], p["current_offset"], p["lag"]) for p in printed["partitions"]] == [
        (0, 4, 2)
    ]
    assert printed["sum_lag"] == 2

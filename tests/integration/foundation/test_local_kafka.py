"""LocalKafka keeps its port and data across stop/start, and Kafka's own tools run against it."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from tests.conftest import report
from touchpoint_common.kafka.admin import create_topics
from touchpoint_common.kafka.configuration import TopicSpec
from touchpoint_common.settings import CommonSettings
from touchpoint_devtools.devservers import LocalKafka, ensure_kafka_libs, run_kafka_tool
from touchpoint_devtools.devservers._common import is_port_open

pytestmark = pytest.mark.integration

CONSUMER_GROUP_COMMAND = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"


async def produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=b"k")
    finally:
        await producer.stop()


async def read_all(bootstrap: str, topic: str, count: int, group: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        async with asyncio.timeout(30):
            while len(values) < count:
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    values.extend(record.value for record in records if record.value)
        await consumer.commit({TopicPartition(topic, 0): len(values)})
    finally:
        await consumer.stop()
    return values


async def test_restart_keeps_port_and_data(own_kafka: Callable[[], LocalKafka]) -> None:
    """Records written before stop() are all there after start(), on the same address, and
    stop() leaves neither the process nor the listening port behind."""
    broker = own_kafka()
    bootstrap = broker.bootstrap
    settings = CommonSettings(kafka_bootstrap=bootstrap)
    topic = "restart-check"
    await create_topics(
        settings, [TopicSpec(name=topic, partitions=1, replication_factor=1, config={})]
    )
    values = [f"record-{i}".encode() for i in range(20)]
    await produce(bootstrap, topic, values)
    pid = broker.pid
    assert pid is not None

    await broker.stop_async()
    assert not broker.running
    assert not is_port_open(broker.port or 0)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)

    assert await broker.start_async() == bootstrap
    assert await read_all(bootstrap, topic, len(values), group="restart") == values
    report(
        f"kafka: private broker restarted at the same address {bootstrap}; "
        f"{len(values)} records survived"
    )


async def test_consumer_group_tool_describes_lag(own_kafka: Callable[[], LocalKafka]) -> None:
    """kafka-consumer-groups --describe (Kafka's own tool, from the cached jars) reports the
    committed offset and the lag of a group."""
    broker = own_kafka()
    topic = "lag-check"
    await create_topics(
        CommonSettings(kafka_bootstrap=broker.bootstrap),
        [TopicSpec(name=topic, partitions=1, replication_factor=1, config={})],
    )
    await produce(broker.bootstrap, topic, [b"a", b"b", b"c", b"d", b"e"])
    await read_all(broker.bootstrap, topic, 5, group="tool-check")
    await produce(broker.bootstrap, topic, [b"f", b"g"])

    output = await asyncio.to_thread(
        run_kafka_tool,
        CONSUMER_GROUP_COMMAND,
        "--bootstrap-server",
        broker.bootstrap,
        "--describe",
        "--group",
        "tool-check",
    )
    rows = [line.split() for line in output.splitlines() if line.startswith("tool-check")]
    assert len(rows) == 1, output
    header = next(line.split() for line in output.splitlines() if "LAG" in line)
    row = dict(zip(header, rows[0], strict=False))
    assert row["TOPIC"] == topic
    assert row["CURRENT-OFFSET"] == "5"
    assert row["LOG-END-OFFSET"] == "7"
    assert row["LAG"] == "2"


def test_cached_jars_need_no_maven(
    own_kafka: Callable[[], LocalKafka], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Once the jars are cached, starting a broker does not need mvn: with a PATH that
    holds java but no mvn, a broker still starts."""
    ensure_kafka_libs()  # fills the cache (with mvn) unless an earlier run did
    java = shutil.which("java")
    assert java is not None
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "java").symlink_to(java)
    monkeypatch.setenv("PATH", str(bin_dir))
    assert shutil.which("mvn") is None
    assert any(ensure_kafka_libs().glob("kafka_2.13-*.jar"))
    broker = own_kafka()
    assert broker.running

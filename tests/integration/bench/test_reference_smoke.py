"""The reference sections of `make bench` run end to end on the real broker (no timing is
asserted): Kafka's producer perf test, and the Quix Streams app on a profile backlog topic."""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench import ingest, profile
from bench.environment import BenchEnvironment
from bench.kafka_reference import INGEST_BATCH, PERF_TEST, bench_kafka_reference
from bench.quix import FOLD, GUARANTEES, bench_quix
from bench.stats import Report
from bench.wire import history
from touchpoint_common.kafka.admin import create_topics
from touchpoint_common.kafka.producer import create_producer
from touchpoint_common.settings import CommonSettings
from touchpoint_devtools.devservers import DevServers

pytestmark = pytest.mark.integration


def environment(settings: CommonSettings, servers: DevServers, workdir: Path) -> BenchEnvironment:
    """The session's servers and topics as a bench environment (no services started)."""
    return BenchEnvironment(settings, servers, workdir, uuid.uuid4().hex[:8])


def values(report: Report, section: str) -> dict[str, float]:
    """name -> value of the section's figures."""
    return {f.name: f.value for f in report.figures if f.section == section}


async def test_producer_perf_test_reports_throughput_latency_and_ratio(
    settings: CommonSettings, dev_servers: DevServers, tmp_path: Path
) -> None:
    """kafka-producer-perf-test from the broker's jars runs on a fresh topic of the bench's
    broker; its records/s, p50/p95/p99 and the ratio to an ingest figure are reported."""
    if shutil.which("java") is None:
        pytest.skip("kafka-producer-perf-test needs java")
    report = Report()
    report.add(ingest.SECTION, INGEST_BATCH, 1000.0, "events/s")
    await bench_kafka_reference(
        report, environment(settings, dev_servers, tmp_path), seed=1, quick=True
    )
    figures = values(report, "reference")
    expected = {
        PERF_TEST,
        f"{PERF_TEST}, latency p50",
        f"{PERF_TEST}, latency p95",
        f"{PERF_TEST}, latency p99",
        "ingest batch x100 / producer-perf-test",
    }
    assert expected <= figures.keys()
    assert figures[PERF_TEST] > 0
    assert figures[f"{PERF_TEST}, latency p99"] >= figures[f"{PERF_TEST}, latency p50"]
    assert figures["ingest batch x100 / producer-perf-test"] > 0


async def test_quix_app_reports_both_guarantees_and_the_fold_ratio(
    settings: CommonSettings, dev_servers: DevServers, tmp_path: Path
) -> None:
    """The Quix Streams app consumes a backlog on the profile consumer's topic to its end,
    exactly-once and at-least-once, in subprocesses; each run's rates and ratio are reported."""
    env = environment(settings, dev_servers, tmp_path)
    topic = profile.backlog_topic(settings)
    backlog_settings = CommonSettings(**{**settings.model_dump(), "topic_interactions": topic})
    await create_topics(backlog_settings)
    now = datetime.now(UTC)
    backlog = history(
        count=1000,
        customers=100,
        seed=1,
        start=now - timedelta(days=60),
        end=now,
        settings=settings,
        prefix=f"qx-{env.run_id}-",
    )
    producer = create_producer(backlog_settings)
    await producer.start()
    try:
        await profile.produce(producer, topic, backlog)
    finally:
        await producer.stop()
    report = Report()
    report.add(profile.SECTION, FOLD, 5000.0, "events/s")
    await bench_quix(report, env, seed=1, quick=True)
    figures = values(report, "reference")
    for guarantee in GUARANTEES:
        for name in (
            f"Quix Streams {guarantee}",
            f"Quix Streams {guarantee}, process start to done",
            f"profile consumer fold / Quix {guarantee}",
        ):
            assert figures.get(name, 0) > 0, name

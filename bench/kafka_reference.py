"""Reference: Kafka's own kafka-producer-perf-test against the bench's broker, and the ratio
of ingest's batch throughput to it.

The tool (org.apache.kafka.tools.ProducerPerformance, from the broker's cached jars) writes
520-byte records (about the size of our wire record) with acks=all and idempotence on, as
fast as it can, to a fresh topic with as many partitions as the interactions topic. A full
run first warms the JVM and the broker with a short run whose rate sizes the measured run to
about 15 s (the machine's load changes the rate several-fold). The topic is deleted after.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from dataclasses import dataclass

from bench import ingest
from bench.environment import BenchEnvironment
from bench.stats import Report
from touchpoint_common.kafka.admin import create_admin, create_topics, get_topic_partitions
from touchpoint_common.kafka.configuration import TopicSpec
from touchpoint_common.settings import CommonSettings
from touchpoint_devtools.devservers import DevServerUnavailable
from touchpoint_devtools.devservers.kafka import ensure_kafka_libs, run_kafka_tool

SECTION = "reference"
PERF_TEST_CLASS = "org.apache.kafka.tools.ProducerPerformance"
RECORD_BYTES = 520
PERF_TEST = f"kafka-producer-perf-test, {RECORD_BYTES} B, acks=all, idempotent"
INGEST_BATCH = "POST /v1/events/batch x100 4 in flight throughput"
"""The issue's ingest row (100 events a batch, 4 in flight), as bench/ingest.py names it."""
QUICK_RECORDS = 100_000
PILOT_RECORDS = 150_000
"""Full mode: a warm-up run of this many records sizes the measured run."""
MEASURE_S = 15.0
MAX_RECORDS = 3_000_000

SUMMARY = re.compile(
    r"(?P<records>\d+) records sent, (?P<rate>[\d.]+) records/sec \((?P<mb>[\d.]+) MB/sec\), "
    r"(?P<avg>[\d.]+) ms avg latency, (?P<max>[\d.]+) ms max latency, (?P<p50>\d+) ms 50th, "
    r"(?P<p95>\d+) ms 95th, (?P<p99>\d+) ms 99th, (?P<p999>\d+) ms 99\.9th"
)


@dataclass(frozen=True)
class PerfSummary:
    """The tool's closing line: records, throughput and send latency (ack received) in ms."""

    records: int
    records_per_s: float
    mb_per_s: float
    avg_ms: float
    max_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    p999_ms: float


def parse_summary(output: str) -> PerfSummary:
    """The last summary line of the tool's output (the ones before it are 5 s progress lines)."""
    matches = list(SUMMARY.finditer(output))
    if not matches:
        raise ValueError(f"no summary line in kafka-producer-perf-test output:\n{output[-2000:]}")
    found = matches[-1]
    return PerfSummary(
        records=int(found["records"]),
        records_per_s=float(found["rate"]),
        mb_per_s=float(found["mb"]),
        avg_ms=float(found["avg"]),
        max_ms=float(found["max"]),
        p50_ms=float(found["p50"]),
        p95_ms=float(found["p95"]),
        p99_ms=float(found["p99"]),
        p999_ms=float(found["p999"]),
    )


def perf_test_args(*, topic: str, records: int, bootstrap: str) -> list[str]:
    """The tool's arguments: unthrottled, fixed-size records, acks=all, idempotent producer."""
    return [
        "--topic",
        topic,
        "--num-records",
        str(records),
        "--record-size",
        str(RECORD_BYTES),
        "--throughput",
        "-1",
        "--producer-props",
        f"bootstrap.servers={bootstrap}",
        "acks=all",
        "enable.idempotence=true",
    ]


def records_for(rate: float) -> int:
    """A record count that takes about MEASURE_S at `rate`, within sane bounds."""
    return max(PILOT_RECORDS, min(MAX_RECORDS, int(round(rate * MEASURE_S, -4))))


async def run_perf_test(settings: CommonSettings, *, topic: str, records: int) -> PerfSummary:
    """One run of the tool (its own JVM) in a thread; its summary."""
    output = await asyncio.to_thread(
        run_kafka_tool,
        PERF_TEST_CLASS,
        *perf_test_args(topic=topic, records=records, bootstrap=settings.kafka_bootstrap),
        timeout=600,
        short_lived=False,
    )
    return parse_summary(output)


async def bench_kafka_reference(
    report: Report, env: BenchEnvironment, *, seed: int, quick: bool
) -> None:
    """Run the producer perf test on a fresh topic; its throughput, latency, and the ratio."""
    settings = env.settings
    partitions = len(await get_topic_partitions(settings, settings.topic_interactions))
    topic = f"{settings.topic_interactions}.perf-test"
    perf_topic = TopicSpec(
        name=topic,
        partitions=partitions,
        replication_factor=settings.topic_replication_factor,
        config={},
    )
    try:  # the broker's jars are cached by the local broker; a Docker broker needs them once
        await asyncio.to_thread(ensure_kafka_libs)
        if shutil.which("java") is None:
            raise DevServerUnavailable("no java on PATH")
    except DevServerUnavailable as missing:
        report.facts["reference_skipped"] = f"kafka-producer-perf-test not run: {missing}"
        return
    await create_topics(settings, [perf_topic])
    try:
        if quick:
            summary = await run_perf_test(settings, topic=topic, records=QUICK_RECORDS)
            sized = f"{QUICK_RECORDS} records (quick)"
        else:
            pilot = await run_perf_test(settings, topic=topic, records=PILOT_RECORDS)
            records = records_for(pilot.records_per_s)
            summary = await run_perf_test(settings, topic=topic, records=records)
            sized = (
                f"{records} records, sized for ~{MEASURE_S:.0f} s from a warm-up run of "
                f"{PILOT_RECORDS} ({pilot.records_per_s:,.0f} records/s)"
            )
    finally:
        admin = create_admin(settings)
        await admin.start()
        try:
            await admin.delete_topics([topic])
        finally:
            await admin.close()
    detail = (
        f"{sized} of {RECORD_BYTES} B to {partitions} partitions, "
        f"{summary.mb_per_s:.1f} MB/s; {PERF_TEST_CLASS} from the broker's jars, one JVM "
        "(full JIT) on the same cores"
    )
    report.add(
        SECTION, PERF_TEST, summary.records_per_s, "records/s", detail, target="the reference"
    )
    latency_detail = (
        f"send -> ack per record, as the tool reports it: avg {summary.avg_ms:.0f} ms, "
        f"p99.9 {summary.p999_ms:.0f} ms, max {summary.max_ms:.0f} ms (unthrottled, so this "
        "is the queueing of a saturated producer)"
    )
    for label, value in (
        ("p50", summary.p50_ms),
        ("p95", summary.p95_ms),
        ("p99", summary.p99_ms),
    ):
        report.add(SECTION, f"{PERF_TEST}, latency {label}", value, "ms", latency_detail)
    ingest_batch = report.find(ingest.SECTION, INGEST_BATCH)
    if ingest_batch is not None and summary.records_per_s > 0:
        report.add(
            SECTION,
            "ingest batch x100 / producer-perf-test",
            ingest_batch.value / summary.records_per_s,
            "x",
            f"'{INGEST_BATCH}' ({ingest_batch.value:,.0f} events/s, one ingest process) over "
            f"'{PERF_TEST}' ({summary.records_per_s:,.0f} records/s)",
            target=">= 0.08x",
        )

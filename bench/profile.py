"""Profile: pure fold, consumer fold on the real database, freshness, state size, view reads."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.environment import api_headers
from bench.rawhttp import RawPool, prepare_get
from bench.stats import Report, ServiceCpu, percentile, run_load
from bench.wire import MemoryResolver, history, one_customer_history, to_wire, validation_rules
from touchpoint_common.events.codec import build_headers, decode_event, encode_event, encode_key
from touchpoint_common.events.models import InteractionEvent
from touchpoint_common.kafka.admin import create_topics
from touchpoint_common.kafka.producer import create_producer
from touchpoint_common.settings import CommonSettings
from touchpoint_common.tracking.offsets import PostgresOffsetStore
from touchpoint_profile.consumer.batch import BatchOutcome, apply_batch
from touchpoint_profile.consumer.runner import ProfileConsumer
from touchpoint_profile.fold.events import ParsedEvent, parse_event
from touchpoint_profile.fold.rules import FoldRules
from touchpoint_profile.fold.state import CustomerState, dump_state_parts
from touchpoint_profile.projection.memory import MemoryStates
from touchpoint_profile.projection.postgres import LIVE_TABLE
from touchpoint_profile.settings import ProfileSettings

SECTION = "profile"
SIZES = (10, 100, 1000, 10_000)
PURE_SIZES = (*SIZES, 30_000)


async def _no_erase(customer_id: str) -> list[str]:
    return []


async def fold_batches(
    store: MemoryStates, events: list[ParsedEvent], *, now: datetime, batch: int, rules: FoldRules
) -> BatchOutcome:
    """The consumer's batch code (apply_batch) over `events`, `batch` at a time, no I/O."""
    outcome = BatchOutcome()
    for start in range(0, len(events), batch):
        outcome = await apply_batch(
            store=store,
            events=events[start : start + batch],
            now=now,
            rules=rules,
            erase=_no_erase,
        )
    return outcome


async def bench_pure(report: Report, backlog: list[InteractionEvent], *, now: datetime) -> None:
    """Decode, fold, and fold with state (de)serialisation, each on its own, in events/s."""
    rules = FoldRules()
    records = [encode_event(event) for event in backlog]
    started = time.perf_counter()
    parsed = [parse_event(decode_event(value)) for value in records]
    decode_s = time.perf_counter() - started
    count = len(parsed)
    customers = len({p.event.customer_id for p in parsed})
    detail = f"{count} events, {customers} customers, batches of 1000"
    report.add(
        SECTION,
        "pure decode + parse (record -> event)",
        count / decode_s,
        "events/s",
        f"{count} records",
    )
    names = {
        False: "pure fold (apply_batch, states in memory)",
        True: "pure fold + state JSON load/dump per batch",
    }
    best: dict[bool, float] = {}
    for _ in range(2):  # best of two, alternating: the machine is shared
        for serialize in names:
            store = MemoryStates(serialize=serialize)
            started = time.perf_counter()
            await fold_batches(store, parsed, now=now, batch=1000, rules=rules)
            rate = count / (time.perf_counter() - started)
            best[serialize] = max(best.get(serialize, 0.0), rate)
    for serialize, name in names.items():
        report.add(SECTION, name, best[serialize], "events/s", f"{detail}, best of 2")


def _state_facts(state: CustomerState) -> str:
    return (
        f"dedup keys {len(state.applied)}, days {len(state.days)}, timeline "
        f"{len(state.timeline)}, offers {len(state.offers)}, complaints {len(state.complaints)}"
    )


async def bench_state_size(
    report: Report, settings: CommonSettings, *, now: datetime, seed: int
) -> None:
    """Serialized state of one customer after N events, spread over a year and over 30 days."""
    rules = FoldRules()
    for span_days in (365, 30):
        start = now - timedelta(days=span_days)
        posted = one_customer_history(
            count=max(PURE_SIZES), seed=seed, start=start, end=now, loyalty_id="L-size"
        )
        resolver = MemoryResolver(f"size{span_days}-")
        rules_in = validation_rules(settings)
        parsed = [
            parse_event(to_wire(raw, rules=rules_in, resolver=resolver, now=now)) for raw in posted
        ]
        for size in PURE_SIZES:
            chosen = parsed[:: max(1, len(parsed) // size)][:size]  # evenly over the span
            store = MemoryStates(serialize=True)
            await fold_batches(store, chosen, now=now, batch=1000, rules=rules)
            (document,) = store.documents.values()
            state = CustomerState.model_validate_json(document)
            body, dedup = dump_state_parts(state)
            report.add(
                SECTION,
                f"state size, {size} events over {span_days} d",
                len(body) / 1024,
                "KiB",
                f"state column as put_states writes it; dedup column {len(dedup) / 1024:.1f} KiB; "
                + _state_facts(state),
                target="plateaus with N" if size == max(PURE_SIZES) else "",
            )


async def end_offsets(settings: CommonSettings, topic: str) -> dict[int, int]:
    """partition → end offset of `topic` now."""
    reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None)
    await reader.start()
    try:
        partitions = [TopicPartition(topic, p) for p in reader.partitions_for_topic(topic) or ()]
        if not partitions:
            partitions = [TopicPartition(topic, p) for p in range(settings.topic_partitions)]
        ends = await reader.end_offsets(partitions)
        return {tp.partition: int(offset) for tp, offset in ends.items()}
    finally:
        await reader.stop()


async def produce(producer: AIOKafkaProducer, topic: str, events: list[InteractionEvent]) -> None:
    """Write events as ingest does (key, value, headers), then wait for the broker."""
    for event in events:
        await producer.send(
            topic, key=encode_key(event), value=encode_event(event), headers=build_headers(event)
        )
    await producer.flush()


class TimedConsumer(ProfileConsumer):
    """The real consumer; records, per batch, its size and each event's received_at→commit."""

    def __init__(
        self,
        settings: ProfileSettings,
        *,
        sessions: async_sessionmaker[AsyncSession],
        producer: AIOKafkaProducer,
        table: str,
    ) -> None:
        super().__init__(settings, sessions=sessions, producer=producer, table=table)
        self.freshness: list[float] = []
        self.batch_sizes: list[int] = []

    async def commit_to_database(
        self, events: list[ParsedEvent], offsets: dict[int, int]
    ) -> BatchOutcome:
        """Fold and commit as usual, then note when the batch became visible."""
        outcome = await super().commit_to_database(events, offsets)
        visible = datetime.now(UTC)
        self.batch_sizes.append(len(events))
        self.freshness.extend((visible - p.event.received_at).total_seconds() for p in events)
        return outcome


def caught_up(positions: Mapping[int, int | None], ends: Mapping[int, int]) -> bool:
    """Every partition's position at or past its end offset."""
    return all((positions.get(p) or 0) >= end for p, end in ends.items())


async def wait_assigned(consumer: TimedConsumer, partitions: int, timeout_s: float = 60) -> None:
    """Poll until the group assigned every partition (empty polls: no records yet)."""
    deadline = time.monotonic() + timeout_s
    while len(consumer.positions) < partitions:
        if time.monotonic() > deadline:
            raise TimeoutError("profile consumer got no partition assignment")
        await consumer.poll_once()


async def drain(consumer: TimedConsumer, ends: Mapping[int, int], timeout_s: float) -> None:
    """Poll until caught up with `ends`."""
    deadline = time.monotonic() + timeout_s
    while not caught_up(consumer.positions, ends):
        if time.monotonic() > deadline:
            raise TimeoutError("profile consumer did not catch up")
        await consumer.poll_once()


def backlog_topic(settings: CommonSettings) -> str:
    """The topic bench_consumer fills with the backlog (and the freshness events) and folds."""
    return f"{settings.topic_interactions}.consumer"


async def bench_consumer(
    report: Report,
    settings: CommonSettings,
    sessions: async_sessionmaker[AsyncSession],
    backlog: list[InteractionEvent],
    *,
    run_id: str,
    seed: int,
    fresh_rate: float,
    fresh_seconds: float,
) -> None:
    """The real ProfileConsumer on a backlog topic, per batch size; then freshness at a rate."""
    topic = backlog_topic(settings)
    base = ProfileSettings(**{**settings.model_dump(), "topic_interactions": topic})
    await create_topics(base)
    producer = create_producer(base)
    await producer.start()
    try:
        await produce(producer, topic, backlog)
        ends = await end_offsets(base, topic)
        customers = len({event.customer_id for event in backlog})
        for batch_max in (1000, 5000, 100):  # 5000: the default since the fold's tuning
            table = LIVE_TABLE if batch_max == 1000 else f"{LIVE_TABLE}_b{batch_max}"
            if table != LIVE_TABLE:
                async with sessions() as session, session.begin():
                    await session.execute(
                        text(f"CREATE TABLE {table} (LIKE {LIVE_TABLE} INCLUDING ALL)")
                    )
            consumer_settings = ProfileSettings(
                **{
                    **base.model_dump(),
                    "consumer_group": f"bench-{run_id}-b{batch_max}",
                    "consumer_batch_max_records": batch_max,
                    "service_name": "profile-bench",
                }
            )
            consumer = TimedConsumer(
                consumer_settings, sessions=sessions, producer=producer, table=table
            )
            await consumer.start()
            try:
                await wait_assigned(consumer, len(ends))
                started = time.perf_counter()
                await drain(consumer, ends, timeout_s=240)
                elapsed = time.perf_counter() - started
                sizes = consumer.batch_sizes
                detail = (
                    f"{len(backlog)} events, {customers} customers, {settings.topic_partitions} "
                    f"partitions, max_records {batch_max}: {len(sizes)} batches, mean "
                    f"{sum(sizes) / max(1, len(sizes)):.0f}, {elapsed:.1f} s"
                )
                report.add(
                    SECTION,
                    f"consumer fold to PostgreSQL, batch {batch_max}",
                    len(backlog) / elapsed,
                    "events/s",
                    detail,
                )
                if batch_max == 1000:
                    await bench_freshness(
                        report,
                        consumer,
                        producer,
                        topic,
                        settings,
                        seed=seed,
                        rate=fresh_rate,
                        seconds=fresh_seconds,
                    )
            finally:
                await consumer.stop()
    finally:
        await producer.stop()


async def bench_freshness(
    report: Report,
    consumer: TimedConsumer,
    producer: AIOKafkaProducer,
    topic: str,
    settings: CommonSettings,
    *,
    seed: int,
    rate: float,
    seconds: float,
) -> None:
    """Events produced at a steady rate while the consumer runs: received_at → committed."""
    count = int(rate * seconds)
    now = datetime.now(UTC)
    events = history(
        count=count,
        customers=500,
        seed=seed + 1,
        start=now - timedelta(seconds=1),
        end=now,
        settings=settings,
        prefix="fresh-",
    )
    consumer.freshness.clear()
    consumer.batch_sizes.clear()
    task = asyncio.create_task(consumer.run())
    try:
        started = time.perf_counter()
        for index, event in enumerate(events):
            delay = started + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            stamped_at = datetime.now(UTC)
            stamped = event.model_copy(
                update={"received_at": stamped_at, "occurred_at": stamped_at}
            )
            await producer.send(
                topic,
                key=encode_key(stamped),
                value=encode_event(stamped),
                headers=build_headers(stamped),
            )
        await producer.flush()
        ends = await end_offsets(settings, topic)
        deadline = time.monotonic() + 60
        while not caught_up(consumer.positions, ends) and time.monotonic() < deadline:  # noqa: ASYNC110 (polls another task's progress)
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    sizes = consumer.batch_sizes
    detail = (
        f"{count} events at {rate:.0f}/s, produced with acks=all (linger 5 ms), consumer "
        f"batch timeout {consumer.tracking.batch_timeout_ms} ms; {len(sizes)} batches, "
        f"mean {sum(sizes) / max(1, len(sizes)):.1f} events"
    )
    report.add_latencies(
        SECTION,
        "freshness received_at -> committed",
        consumer.freshness,
        detail,
        target="< 1000 ms",
    )


async def projection_offsets(
    sessions: async_sessionmaker[AsyncSession], *, group: str, topic: str
) -> dict[int, int]:
    """What the profile service has committed with its states: partition → next offset."""
    async with sessions() as session:
        return await PostgresOffsetStore(session).get_offsets(group=group, topic=topic)


async def wait_service_caught_up(
    sessions: async_sessionmaker[AsyncSession],
    settings: CommonSettings,
    *,
    group: str,
    timeout_s: float,
) -> float:
    """Seconds until the service's stored offsets reach the topic's current end offsets."""
    ends = await end_offsets(settings, settings.topic_interactions)
    started = time.perf_counter()
    deadline = time.monotonic() + timeout_s
    while not caught_up(
        await projection_offsets(sessions, group=group, topic=settings.topic_interactions), ends
    ):
        if time.monotonic() > deadline:
            raise TimeoutError("the profile service did not catch up")
        await asyncio.sleep(0.05)
    return time.perf_counter() - started


def heavy_histories(*, now: datetime, seed: int, run_id: str) -> dict[int, list[dict[str, object]]]:
    """Per size N, N posted events of one customer (loyalty id) over the past year."""
    return {
        size: one_customer_history(
            count=size,
            seed=seed + size,
            start=now - timedelta(days=365),
            end=now,
            loyalty_id=f"L-bench-{run_id}-{size}",
        )
        for size in SIZES
    }


async def stored_sizes(
    sessions: async_sessionmaker[AsyncSession], customer_ids: Mapping[int, str]
) -> dict[int, tuple[int, int, int]]:
    """Per size N: (JSON text bytes, bytes PostgreSQL stores, TOAST-compressed) of the state
    column the view reads, and the bytes of the dedup column only the fold reads."""
    sizes: dict[int, tuple[int, int, int]] = {}
    async with sessions() as session:
        for size, customer_id in customer_ids.items():
            row = (
                await session.execute(
                    text(
                        "SELECT octet_length(state::text) AS text_bytes, "
                        "pg_column_size(state) AS stored_bytes, "
                        "coalesce(octet_length(dedup), 0) AS dedup_bytes "
                        "FROM profile_customers WHERE customer_id = :id"
                    ),
                    {"id": customer_id},
                )
            ).one()
            sizes[size] = (int(row.text_bytes), int(row.stored_bytes), int(row.dedup_bytes))
    return sizes


async def sample_customers(
    sessions: async_sessionmaker[AsyncSession], *, count: int, seed: int
) -> list[str]:
    """Live customers made by ingest (in the identity table), neither erased nor merged away."""
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT p.customer_id FROM profile_customers p "
                "JOIN customers c USING (customer_id) "
                "WHERE NOT p.erased AND p.state->>'merged_into' IS NULL ORDER BY p.customer_id"
            )
        )
        ids = [str(row.customer_id) for row in rows]
    random.Random(seed).shuffle(ids)
    return ids[:count]


def summarize(values: list[float]) -> str:
    """p50/p99 in ms, for details."""
    return (
        f"p50 {1000 * percentile(values, 0.5):.1f} ms, p99 {1000 * percentile(values, 0.99):.1f} ms"
    )


async def read_views(
    report: Report,
    url: str,
    *,
    name: str,
    paths: list[str],
    calls: int,
    concurrency: int = 1,
    target: str = "",
    throughput_target: str = "",
    service_pid: int | None = None,
) -> None:
    """GET the paths round-robin over raw keep-alive connections (httpx's own CPU would be
    the limit); latency percentiles, and throughput when concurrent."""
    found = 0
    requests = [prepare_get(url, path, api_headers()) for path in paths]
    pool = RawPool(url, concurrency)

    async def get(index: int) -> bool:
        nonlocal found
        status, _ = await pool.request(requests[index % len(requests)])
        found += status == 200
        return status in (200, 404)

    try:
        await run_load(get, concurrency=concurrency, max_calls=min(calls, 20), max_s=5)
        found = 0
        cpu = ServiceCpu(service_pid)
        result = await run_load(get, concurrency=concurrency, max_calls=calls, max_s=20)
        cpu.add(report, SECTION, name, result.calls, "read")
    finally:
        await pool.close()
    detail = (
        f"{result.calls} reads of {len(paths)} customers, {found} found, "
        f"{result.failures} errors, {concurrency} in flight, raw HTTP/1.1 client"
    )
    report.add_latencies(SECTION, name, result.latencies, detail, target=target)
    if concurrency > 1:
        report.add(
            SECTION, f"{name} throughput", result.rate, "reads/s", detail, target=throughput_target
        )

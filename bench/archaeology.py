"""No archaeology: the view from the customer's raw events on each request, against the view.

The baseline is what a system without a folded view would do on every read: fetch all of the
customer's raw events from PostgreSQL, decode them, fold them from an empty state with the
real pure fold (`fold_many`, same rules, the request's `now`), and evaluate the view with the
function the read API uses (`evaluate`). The other side reads the stored state row the
profile service folded (`touchpoint_profile.read.get_customer_profile`, what the API calls),
in the same process, and over HTTP from the running profile service. One customer per size,
whose events go to both sides: produced to the interactions topic as ingest would (the
service folds them) and copied into a bench-only table `bench_raw_events` (a baseline, not a
migration).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench import profile
from bench.environment import BenchEnvironment, api_headers
from bench.stats import Report, percentile, run_load
from bench.wire import MemoryResolver, one_customer_history, to_wire, validation_rules
from touchpoint_common.db.engine import create_engine, create_session_factory
from touchpoint_common.events.codec import decode_event, encode_event
from touchpoint_common.events.models import InteractionEvent
from touchpoint_common.kafka.producer import create_producer
from touchpoint_common.settings import CommonSettings
from touchpoint_profile.fold.evaluate import evaluate
from touchpoint_profile.fold.events import parse_event
from touchpoint_profile.fold.fold import fold_many
from touchpoint_profile.fold.state import new_state
from touchpoint_profile.read import (
    BaseRanking,
    FoldRules,
    FoldRulesSettings,
    ProfileFigures,
    get_current_ranking,
    get_customer_profile,
)

T = TypeVar("T")
SECTION = "archaeology"
SIZES = (10, 1000, 100_000)
QUICK_SIZES = (10, 1000, 10_000)
RAW_TABLE = "bench_raw_events"
HISTORY_DAYS = 365
CALLS = 50
"""Timed calls per side and size (after a warm-up call)."""
HEAVY = 1000
HEAVY_CALLS = 3
"""Raw-events calls for a history above HEAVY events (seconds each; no warm-up)."""
MAX_SECONDS = 60.0
QUICK_MAX_SECONDS = 5.0
"""No new call starts after this long timing one side of one size (one call at least)."""
HTTP_ONLY_FIELDS = ("identifiers",)
"""The HTTP view adds the masked identifiers (none here: no identity rows for these ids)."""


@dataclass(frozen=True)
class History:
    """One customer's wire events, oldest first."""

    size: int
    customer_id: str
    events: list[InteractionEvent]


def build_history(
    size: int, *, settings: CommonSettings, now: datetime, seed: int, run_id: str
) -> History:
    """`size` realistic wire events of one new customer over the past year (id unique per run)."""
    posted = one_customer_history(
        count=size,
        seed=seed + size,
        start=now - timedelta(days=HISTORY_DAYS),
        end=now,
        loyalty_id=f"L-arch-{run_id}-{size}",
    )
    rules = validation_rules(settings)
    resolver = MemoryResolver(f"arch{size}-{run_id}-")
    events = [to_wire(raw, rules=rules, resolver=resolver, now=now) for raw in posted]
    (customer_id,) = {event.customer_id for event in events}
    return History(size, customer_id, events)


async def create_raw_table(sessions: async_sessionmaker[AsyncSession]) -> None:
    """The bench-only table of raw events (the encoded Kafka record) and its read index."""
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {RAW_TABLE} (customer_id text NOT NULL, "
                "occurred_at timestamptz NOT NULL, record bytea NOT NULL)"
            )
        )
        await session.execute(
            text(
                f"CREATE INDEX IF NOT EXISTS {RAW_TABLE}_customer "
                f"ON {RAW_TABLE} (customer_id, occurred_at)"
            )
        )


async def copy_raw_events(sessions: async_sessionmaker[AsyncSession], history: History) -> None:
    """COPY the customer's events (as the records ingest writes to Kafka) into the raw table."""
    rows = [(event.customer_id, event.occurred_at, encode_event(event)) for event in history.events]
    async with sessions() as session, session.begin():
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection  # asyncpg's Connection
        await driver.copy_records_to_table(
            RAW_TABLE, records=rows, columns=("customer_id", "occurred_at", "record")
        )
    async with sessions() as session, session.begin():
        await session.execute(text(f"ANALYZE {RAW_TABLE}"))


async def get_view_from_raw_events(
    *,
    db_session: AsyncSession,
    customer_id: str,
    now: datetime,
    rules: FoldRules,
    ranking: BaseRanking | None,
) -> ProfileFigures | None:
    """The baseline request: every raw event of the customer, decoded and folded from an
    empty state at `now`, evaluated as the read API does; None when it has no events."""
    rows = await db_session.execute(
        text(
            f"SELECT record FROM {RAW_TABLE} "  # noqa: S608 (a constant name)
            "WHERE customer_id = :id ORDER BY occurred_at"
        ),
        {"id": customer_id},
    )
    records: list[bytes] = list(rows.scalars())
    events = [parse_event(decode_event(record)) for record in records]
    if not events:
        return None
    state = fold_many(new_state(customer_id), events, now, rules)
    return evaluate(state, now, rules, ranking)


def get_differing_fields(
    expected: ProfileFigures, *others: dict[str, Any] | ProfileFigures | None
) -> list[str]:
    """The view fields in which any of `others` differs from `expected` (all read at the same
    as_of, so no field may differ); ["<missing>"] when a view is absent."""
    want = expected.model_dump(mode="json")
    differing: set[str] = set()
    for other in others:
        if other is None:
            differing.add("<missing>")
            continue
        if isinstance(other, dict):
            other = ProfileFigures.model_validate(
                {k: v for k, v in other.items() if k not in HTTP_ONLY_FIELDS}
            )
        got = other.model_dump(mode="json")
        differing.update(
            name for name in want.keys() | got.keys() if want.get(name) != got.get(name)
        )
    return sorted(differing)


async def time_calls(
    call: Callable[[], Awaitable[T | None]], *, calls: int, warm_up: bool, max_s: float
) -> tuple[list[float], T | None]:
    """Latencies (s) of sequential calls (after one untimed call when `warm_up`), and what the
    last call returned."""
    last: T | None = await call() if warm_up else None

    async def timed(_: int) -> bool:
        """One call, keeping its answer."""
        nonlocal last
        last = await call()
        return last is not None

    result = await run_load(timed, concurrency=1, max_calls=calls, max_s=max_s)
    if result.failures:
        raise RuntimeError(f"{result.failures} calls found no view")
    return result.latencies, last


async def get_sizes(
    sessions: async_sessionmaker[AsyncSession], customer_id: str
) -> tuple[int, int, int]:
    """(bytes of the raw rows, bytes of the stored state row's state + dedup columns, raw
    record bytes) as PostgreSQL stores them (tuple data, TOAST-compressed; no index, pages)."""
    async with sessions() as session:
        raw = (
            await session.execute(
                text(
                    "SELECT coalesce(sum(pg_column_size(r.*)), 0) AS stored, "  # noqa: S608 (a constant name)
                    "coalesce(sum(octet_length(r.record)), 0) AS records "
                    f"FROM {RAW_TABLE} r WHERE customer_id = :id"
                ),
                {"id": customer_id},
            )
        ).one()
        state: int = (
            await session.execute(
                text(
                    "SELECT pg_column_size(state) + coalesce(pg_column_size(dedup), 0) "
                    "FROM profile_customers WHERE customer_id = :id"
                ),
                {"id": customer_id},
            )
        ).scalar_one()
    return int(raw.stored), int(state), int(raw.records)


async def measure_size(
    report: Report,
    sessions: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    history: History,
    *,
    rules: FoldRules,
    ranking: BaseRanking | None,
    max_s: float,
) -> list[str]:
    """The three ways to the view of one customer, timed at one `now` (so their answers must
    be equal); the sizes of both stores; the view fields in which the answers differ."""
    customer_id, size = history.customer_id, history.size
    now = datetime.now(UTC)

    async def from_raw() -> ProfileFigures | None:
        """The baseline request."""
        async with sessions() as session:
            return await get_view_from_raw_events(
                db_session=session, customer_id=customer_id, now=now, rules=rules, ranking=ranking
            )

    async def from_state() -> ProfileFigures | None:
        """The stored state read as the API reads it."""
        async with sessions() as session:
            return await get_customer_profile(
                db_session=session, customer_id=customer_id, now=now, rules=rules, ranking=ranking
            )

    async def over_http() -> dict[str, Any] | None:
        """The view from the running service."""
        response = await client.get(
            f"/v1/customers/{customer_id}", params={"as_of": now.isoformat()}
        )
        return dict(response.json()) if response.status_code == 200 else None

    heavy = size > HEAVY
    raw_s, baseline = await time_calls(
        from_raw, calls=HEAVY_CALLS if heavy else CALLS, warm_up=not heavy, max_s=max_s
    )
    state_s, stored = await time_calls(from_state, calls=CALLS, warm_up=True, max_s=max_s)
    http_s, served = await time_calls(over_http, calls=CALLS, warm_up=True, max_s=max_s)
    if stored is None:
        raise RuntimeError(f"the service has no view of the {size}-event customer")
    differing = get_differing_fields(stored, baseline, served)

    def detail(calls: int, warm_up: bool, how: str) -> str:
        """How a latency figure was measured."""
        return (
            f"one customer, {size} events over {HISTORY_DAYS} d; {calls} sequential calls"
            + (" after 1 warm-up call" if warm_up else "")
            + f": {how}"
        )

    report.add_latencies(
        SECTION,
        f"raw events -> view, {size} events",
        raw_s,
        detail(
            len(raw_s),
            not heavy,
            "SELECT the raw records, decode, fold_many from an empty state, evaluate",
        ),
    )
    report.add_latencies(
        SECTION,
        f"stored state -> view, {size} events",
        state_s,
        detail(len(state_s), True, "get_customer_profile (what the API calls)"),
    )
    report.add_latencies(
        SECTION,
        f"GET view over HTTP, {size} events",
        http_s,
        detail(
            len(http_s),
            True,
            "GET /v1/customers/{id}?as_of= on the profile service (no identity rows: no "
            "identifiers to open)",
        ),
    )
    raw_p50, state_p50 = percentile(raw_s, 0.5), percentile(state_s, 0.5)
    report.add(
        SECTION,
        f"raw events / stored view, {size} events",
        raw_p50 / state_p50,
        "x",
        f"p50 {1000 * raw_p50:.1f} ms / {1000 * state_p50:.2f} ms; raw events / HTTP view "
        f"{raw_p50 / percentile(http_s, 0.5):.1f}x; view fields differing: "
        + (", ".join(differing) or "none"),
    )
    raw_bytes, state_bytes, record_bytes = await get_sizes(sessions, customer_id)
    report.add(
        SECTION,
        f"raw events in PostgreSQL, {size} events",
        raw_bytes / 1024,
        "KiB",
        f"sum of pg_column_size of the rows ({record_bytes / 1024:.1f} KiB of records), "
        "index and page overhead not counted",
    )
    report.add(
        SECTION,
        f"stored state in PostgreSQL, {size} events",
        state_bytes / 1024,
        "KiB",
        "pg_column_size of the state and dedup columns (TOAST-compressed); "
        f"raw events / state {raw_bytes / max(1, state_bytes):.1f}x",
    )
    return differing


async def put_histories(
    env: BenchEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    histories: Sequence[History],
    *,
    group: str,
) -> None:
    """Each history to the interactions topic (the service folds it) and into the raw table."""
    settings = env.settings
    producer = create_producer(settings)
    await producer.start()
    try:
        for history in histories:
            await profile.produce(producer, settings.topic_interactions, history.events)
    finally:
        await producer.stop()
    await create_raw_table(sessions)
    for history in histories:
        await copy_raw_events(sessions, history)
    await profile.wait_service_caught_up(sessions, settings, group=group, timeout_s=600)


async def bench_archaeology(
    report: Report,
    env: BenchEnvironment,
    *,
    seed: int,
    quick: bool,
    profile_url: str,
    group: str,
    longest: bool = True,
) -> None:
    """Raw events -> view on each request against the stored view, per history size.

    `profile_url` is the running profile service, whose fold consumer (consumer group
    `group`) reads the bench's interactions topic. `longest` False leaves out the largest
    history (100,000 events: a minute or more of building and one baseline call), so that
    several runs fit the bench's time budget; its figures then come from fewer runs.
    """
    started = time.perf_counter()
    settings = env.settings
    engine = create_engine(settings)
    sessions = create_session_factory(engine)
    rules = FoldRulesSettings().profile_rules
    now = datetime.now(UTC)
    try:
        histories = [
            build_history(size, settings=settings, now=now, seed=seed, run_id=env.run_id)
            for size in (QUICK_SIZES if quick else SIZES)[: None if longest else -1]
        ]
        await put_histories(env, sessions, histories, group=group)
        async with sessions() as session:
            ranking = await get_current_ranking(db_session=session)
        differing: dict[str, list[str]] = {}
        async with httpx.AsyncClient(
            base_url=profile_url, timeout=60.0, headers=api_headers()
        ) as client:
            for history in histories:
                differing[str(history.size)] = await measure_size(
                    report,
                    sessions,
                    client,
                    history,
                    rules=rules,
                    ranking=ranking,
                    max_s=QUICK_MAX_SECONDS if quick else MAX_SECONDS,
                )
    finally:
        await engine.dispose()
    report.facts["archaeology_fields_differing_raw_vs_stored_vs_http"] = differing
    report.facts["archaeology_seconds"] = round(time.perf_counter() - started, 1)

"""Open loop: latency at fixed offered rates, freshness at rate, memory of each service.

Runs last, with ingest, profile and recommend up. Every endpoint is driven by the constant-rate
generator (`bench.openloop`) over keep-alive connections of the raw HTTP client, requests
encoded before the clock starts. Freshness posts batches to ingest open-loop and watches the
profile's committed state (the row the view reads) for each accepted event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Container
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.environment import BenchEnvironment, api_headers
from bench.ingest import encoded_bodies
from bench.memory import add_rss_figures, sampling_rss
from bench.openloop import OpenLoopResult, run_open_loop
from bench.profile import sample_customers
from bench.rawhttp import RawPool, prepare_get, prepare_post
from bench.recommend import CHANNELS
from bench.stats import Report, percentile
from touchpoint_common.db.engine import create_engine, create_session_factory
from touchpoint_devtools.generator.traffic import TrafficModel
from touchpoint_profile.fold.dedup import event_key, unpack_keys
from touchpoint_profile.projection.postgres import LIVE_TABLE

SECTION = "open loop"
FRESH_SECTION = "freshness"
MEMORY_SECTION = "memory"
POST_RATES = (250, 500, 1000, 1500)
VIEW_RATES = (250, 500, 1000, 2000)
OFFER_RATES = (250, 500, 1000)
FRESH_RATES = (500, 2000, 5000)
FRESH_BATCH = 20
"""Events per request for freshness: single events do not reach 2,000/s (issue 14's table)."""
FRESH_TYPES = frozenset({"purchase", "page_view", "store_visit"})
POLL_S = 0.02


@dataclass(frozen=True)
class Pace:
    """How long each step runs: each rate, the wait for late answers after it (those left
    count as errors), the pause between rates, the wait for events still not visible; and
    the requests in flight above which scheduled ones are dropped (also bounds the drain:
    requests abandoned at its end would still load the service during the next rate)."""

    seconds: float
    drain_s: float
    pause_s: float
    settle_s: float
    max_outstanding: int
    fresh_max_outstanding: int

    @property
    def warm_up_s(self) -> float:
        """The discarded run before an endpoint's first rate."""
        return min(0.5, self.seconds / 4)


# Full: 128 in flight is ingest's own admission limit, and far above what a service meeting
# its target needs (1,500/s x 20 ms = 30). Quick: little enough to drain in a second or two.
FULL = Pace(
    seconds=3.0,
    drain_s=15.0,
    pause_s=0.5,
    settle_s=30.0,
    max_outstanding=128,
    fresh_max_outstanding=64,
)
QUICK = Pace(
    seconds=1.0,
    drain_s=10.0,
    pause_s=0.2,
    settle_s=10.0,
    max_outstanding=32,
    fresh_max_outstanding=8,
)

# (p99 target, achieved target) of the rows issue 14's table has a target for.
TARGETS: dict[tuple[str, int], tuple[str, str]] = {
    ("POST /v1/events", 1500): ("p99 < 100 ms at 1,500/s", ">= 1,500 events/s"),
    ("GET view", 2000): ("", ">= 2,000 reads/s per process"),
    ("next-offers", 1000): ("", ">= 1,000/s per process"),
}
FRESH_TARGET_RATE = 2000
FRESH_TARGET = "p99 < 250 ms at 2,000 events/s"


@dataclass
class Endpoint:
    """One endpoint driven at several rates: its figures' name, what a request is (for the
    details), prepared requests (taken in turn, cycled when they run out), the status that
    counts as done, the unit of its rate."""

    name: str
    request: str
    url: str
    requests: list[bytes]
    ok: frozenset[int]
    unit: str
    rates: tuple[int, ...]


async def drive(
    endpoint: Endpoint,
    pool: RawPool,
    *,
    rate: float,
    seconds: float,
    pace: Pace,
    first: int,
) -> OpenLoopResult:
    """One open-loop run of `endpoint` at `rate`, using requests from index `first` on."""
    requests = endpoint.requests

    async def call(index: int) -> int:
        status, _ = await pool.request(requests[(first + index) % len(requests)])
        return status

    return await run_open_loop(
        call,
        rate=rate,
        seconds=seconds,
        ok=endpoint.ok,
        max_outstanding=pace.max_outstanding,
        drain_s=pace.drain_s,
    )


async def endpoint_at_rates(report: Report, endpoint: Endpoint, *, pace: Pace) -> None:
    """A short discarded warm-up, then each rate for `pace.seconds`: p50/p95/p99 from the
    scheduled times and the achieved rate, as "open loop <endpoint> @ <rate>/s"."""
    pool = RawPool(endpoint.url, pace.max_outstanding)
    used = 0
    try:
        warm_up = await drive(
            endpoint,
            pool,
            rate=endpoint.rates[0],
            seconds=pace.warm_up_s,
            pace=pace,
            first=used,
        )
        used += warm_up.scheduled
        for rate in endpoint.rates:
            await asyncio.sleep(pace.pause_s)  # the previous run's queues empty first
            result = await drive(
                endpoint, pool, rate=rate, seconds=pace.seconds, pace=pace, first=used
            )
            used += result.scheduled
            name = f"{endpoint.name} @ {rate}/s"
            p99_target, achieved_target = TARGETS.get((endpoint.name, rate), ("", ""))
            detail = f"{endpoint.request}: {result.describe()}"
            report.add_latencies(SECTION, name, result.latencies, detail, target=p99_target)
            report.add(
                SECTION,
                f"{name} achieved",
                result.achieved,
                endpoint.unit,
                detail,
                target=achieved_target,
            )
    finally:
        await pool.close()


@dataclass
class FreshRun:
    """Freshness bookkeeping: per customer the (dedup key, 202 time) of its events accepted but
    not yet seen in the profile's committed state, and the 202 -> visible delays seen."""

    pending: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    delays: list[float] = field(default_factory=list)
    accepted: int = 0
    poll_seconds: list[float] = field(default_factory=list)
    """How long each poll of the committed state took (its share of the measured delay)."""

    def acknowledge(self, customer_id: str, key: int, at: float) -> None:
        """Ingest answered that this event is in Kafka at `at` (perf_counter)."""
        self.pending.setdefault(customer_id, []).append((key, at))
        self.accepted += 1

    def observe(self, customer_id: str, applied: Container[int], polled_at: float) -> None:
        """The customer's committed dedup keys as of `polled_at`: its events among them (and
        acknowledged before the poll began) are visible."""
        waiting = self.pending.get(customer_id, [])
        keep = []
        for key, acked_at in waiting:
            if acked_at <= polled_at and key in applied:
                self.delays.append(polled_at - acked_at)
            else:
                keep.append((key, acked_at))
        if keep:
            self.pending[customer_id] = keep
        else:
            self.pending.pop(customer_id, None)

    @property
    def unseen(self) -> int:
        """Events accepted and not (yet) seen."""
        return sum(len(events) for events in self.pending.values())


async def poll_visible(engine: AsyncEngine, run: FreshRun, *, interval_s: float) -> None:
    """Until cancelled: read the dedup column (the fold's record of the events it took,
    committed with the state the view reads) of every customer with events pending."""
    statement = text(
        f"SELECT customer_id, dedup FROM {LIVE_TABLE} WHERE customer_id = ANY(:ids)"  # noqa: S608
    )
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        while True:
            polled_at = time.perf_counter()
            ids = list(run.pending)
            if ids:
                rows = (await autocommit.execute(statement, {"ids": ids})).all()
                for row in rows:
                    if row.dedup is not None:
                        applied = unpack_keys(json.loads(row.dedup)["applied"])
                        run.observe(str(row.customer_id), applied, polled_at)
                run.poll_seconds.append(time.perf_counter() - polled_at)
            await asyncio.sleep(max(0.0, polled_at + interval_s - time.perf_counter()))


def fresh_batches(
    model: TrafficModel, customers: list[str], *, events: int, batch: int
) -> tuple[list[bytes], list[list[tuple[str, int]]]]:
    """Batch bodies of generator purchases, page views and store visits addressed to known
    customers by customer_id (round robin), new event ids; and per batch, per event, the
    (customer id, dedup key) to look for."""
    now = datetime.now(UTC)
    bodies: list[bytes] = []
    keys: list[list[tuple[str, int]]] = []
    made = 0
    while made < events:
        items: list[dict[str, Any]] = []
        item_keys: list[tuple[str, int]] = []
        while len(items) < min(batch, events - made):
            raw = model.next_event(now)
            if raw["type"] not in FRESH_TYPES:
                continue
            customer_id = customers[(made + len(items)) % len(customers)]
            event_id = str(uuid.uuid4())
            items.append({**raw, "event_id": event_id, "customer": {"customer_id": customer_id}})
            item_keys.append((customer_id, event_key(event_id)))
        bodies.append(json.dumps({"events": items}).encode())
        keys.append(item_keys)
        made += len(items)
    return bodies, keys


async def freshness_at_rate(
    report: Report,
    *,
    url: str,
    engine: AsyncEngine,
    model: TrafficModel,
    customers: list[str],
    rate: int,
    pace: Pace,
) -> None:
    """Batches of FRESH_BATCH posted open-loop at `rate` events/s; per accepted event, its
    batch's 202 -> first poll of the committed state that holds it."""
    bodies, keys = fresh_batches(
        model, customers, events=round(rate * pace.seconds), batch=FRESH_BATCH
    )
    headers = api_headers()
    requests = [prepare_post(url, "/v1/events/batch", body, headers) for body in bodies]
    run = FreshRun()
    pool = RawPool(url, pace.fresh_max_outstanding)

    async def call(index: int) -> int:
        status, body = await pool.request(requests[index])
        answered = time.perf_counter()
        if status in (200, 207):
            for item in json.loads(body)["results"]:
                if item["status"] == "accepted":
                    customer_id, key = keys[index][item["index"]]
                    run.acknowledge(customer_id, key, answered)
        return status

    poller = asyncio.create_task(poll_visible(engine, run, interval_s=POLL_S))
    try:
        result = await run_open_loop(
            call,
            rate=rate / FRESH_BATCH,
            seconds=pace.seconds,
            ok=frozenset({200, 207}),
            max_outstanding=pace.fresh_max_outstanding,
            drain_s=pace.drain_s,
        )
        deadline = time.monotonic() + pace.settle_s
        while run.pending and time.monotonic() < deadline and not poller.done():  # noqa: ASYNC110 (the poller task clears it)
            await asyncio.sleep(POLL_S)
    finally:
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller
        await pool.close()
    achieved = run.accepted / result.elapsed
    ingest_p99 = 1000 * percentile(result.latencies, 0.99)
    poll_p99 = 1000 * percentile(run.poll_seconds, 0.99)
    detail = (
        f"offered {rate}/s as batches of {FRESH_BATCH} (single events do not reach these "
        f"rates); {run.accepted} events accepted = {achieved:.0f}/s achieved; "
        f"{run.unseen} not visible within {pace.settle_s:g} s after the last answer; state "
        f"polled every {1000 * POLL_S:.0f} ms (poll p99 {poll_p99:.0f} ms); ingest requests: "
        f"{result.describe()}, p99 {ingest_p99:.0f} ms from the scheduled time"
    )
    name = f"freshness @ {rate}/s"
    report.add_latencies(
        FRESH_SECTION,
        name,
        run.delays,
        detail,
        target=FRESH_TARGET if rate == FRESH_TARGET_RATE else "",
    )
    report.add(FRESH_SECTION, f"{name} achieved ingest", achieved, "events/s", detail)


async def bench_open_loop(report: Report, env: BenchEnvironment, *, seed: int, quick: bool) -> None:
    """Freshness at 500/2,000/5,000 events/s, then views, next-offers and single events at
    fixed offered rates, with every service's RSS sampled throughout."""
    pace = QUICK if quick else FULL
    ingest, profile, recommend = (env.services[name] for name in ("ingest", "profile", "recommend"))
    engine = create_engine(env.settings)
    model = TrafficModel(customers=2000, seed=seed + 14)
    headers = api_headers()
    try:
        customers = await sample_customers(
            create_session_factory(engine), count=1000, seed=seed + 14
        )
        if not customers:
            raise RuntimeError("no live customer to read or post to: run after the profile")
        pids = {name: service.process.pid for name, service in env.services.items()}
        started = time.perf_counter()
        async with sampling_rss(pids) as rss:
            for rate in FRESH_RATES:
                await freshness_at_rate(
                    report,
                    url=ingest.url,
                    engine=engine,
                    model=model,
                    customers=customers,
                    rate=rate,
                    pace=pace,
                )
            views = Endpoint(
                "GET view",
                "GET /v1/customers/{id}",
                profile.url,
                [prepare_get(profile.url, f"/v1/customers/{cid}", headers) for cid in customers],
                frozenset({200}),
                "reads/s",
                VIEW_RATES,
            )
            await endpoint_at_rates(report, views, pace=pace)
            offers = Endpoint(
                "next-offers",
                "GET /v1/customers/{id}/next-offers?channel= (channels rotated)",
                recommend.url,
                [
                    prepare_get(
                        recommend.url,
                        f"/v1/customers/{cid}/next-offers?channel={CHANNELS[i % len(CHANNELS)]}",
                        headers,
                    )
                    for i, cid in enumerate(customers)
                ],
                frozenset({200}),
                "decisions/s",
                OFFER_RATES,
            )
            await endpoint_at_rates(report, offers, pace=pace)
            singles = round((sum(POST_RATES) * pace.seconds + POST_RATES[0]) * 1.05)
            events = Endpoint(
                "POST /v1/events",
                "POST /v1/events, one generator event each",
                ingest.url,
                [
                    prepare_post(ingest.url, "/v1/events", body, headers)
                    for body in encoded_bodies(model, size=None, count=singles)
                ],
                frozenset({202}),
                "events/s",
                POST_RATES,
            )
            await endpoint_at_rates(report, events, pace=pace)
        add_rss_figures(
            report,
            MEMORY_SECTION,
            rss,
            f"this section ({time.perf_counter() - started:.0f} s: freshness posting, view "
            "reads, next-offers, single events at fixed rates)",
        )
    finally:
        await engine.dispose()

"""One chaos run: start a private system, load it, inject faults, drain, check, report."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import logging
import math
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from touchpoint_common.access.cli import bearer_headers, create_key_at
from touchpoint_common.access.models import ALL_SCOPES, KeyIn
from touchpoint_common.events.codec import UndecodableEvent, decode_event
from touchpoint_common.settings import CommonSettings
from touchpoint_devtools.chaos.cluster import Cluster
from touchpoint_devtools.chaos.faults import InjectedFault, inject, plan_faults
from touchpoint_devtools.chaos.verify import (
    Figures,
    Mismatch,
    TopicAnomalies,
    compare,
    diagnose_timeline,
    expected_by_customer,
    find_topic_anomalies,
    observed_figures,
)
from touchpoint_devtools.generator.recording import Ledger, send_recorded
from touchpoint_devtools.generator.traffic import TrafficModel

logger = logging.getLogger(__name__)
GROUPS = ("touchpoint-profile", "touchpoint-recommend-learner")
RECOVERY_TIMEOUT_S = 180.0
MISMATCHES_DIAGNOSED = 20
GIVE_UP_AFTER_S = 180.0
"""A client retries one event this long: a 30 s database stop plus a 30 s stale claim, twice."""
LOAD_OVERRUN_S = 120.0
"""The load may run this much past its duration when the API slows; then it stops sending."""


@dataclass(frozen=True)
class ChaosConfig:
    """How hard and how long to shake the system."""

    faults: int = 50
    duration: float = 900.0
    rate: float = 30.0
    customers: int = 300
    seed: int = 7
    concurrency: int = 32
    postgres_pause_s: float = 30.0
    drain_timeout_s: float = 600.0
    workdir: Path | None = None
    keep_workdir: bool = False


@dataclass
class ChaosReport:
    """What a run did and found."""

    config: ChaosConfig
    faults: list[InjectedFault] = field(default_factory=list)
    events_sent: int = 0
    events_accepted: int = 0
    refused: dict[str, str] = field(default_factory=dict)
    answers: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    time_to_2xx: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Seconds from an event's first attempt to its 2xx: median, p99, max."""
    customers_checked: int = 0
    anomalies: TopicAnomalies | None = None
    mismatches: list[Mismatch] = field(default_factory=list)
    dead_letters: int = 0
    copies_on_topic: int = 0
    """Accepted event_ids written more than once (a retry after a crash): the fold counts once."""
    unplanned_exits: dict[str, list[int]] = field(default_factory=dict)
    drain_s: float = 0.0
    not_recovered: list[str] = field(default_factory=list)
    final_lag: dict[str, int | None] = field(default_factory=dict)
    workdir: str = ""
    first_2xx_after: dict[str, list[float]] = field(default_factory=dict)
    """Per fault kind: seconds from the end of each fault to the next 2xx the client got."""
    load_started: float = 0.0
    """time.monotonic() when the load and the fault clock started."""

    @property
    def ok(self) -> bool:
        """Nothing lost, nothing counted twice, every service back by itself."""
        anomalies = self.anomalies
        return (
            not self.mismatches
            and not self.refused
            and not self.not_recovered
            and anomalies is not None
            and not (anomalies.missing or anomalies.unexpected or anomalies.split)
        )

    def faults_by_kind(self) -> dict[str, int]:
        """How many faults of each kind were injected."""
        return dict(Counter(str(fault.kind) for fault in self.faults))

    def recovery_by_kind(self) -> dict[str, tuple[float, float, float]]:
        """Recovery seconds per kind: (min, median, max)."""
        times: dict[str, list[float]] = defaultdict(list)
        for fault in self.faults:
            times[str(fault.kind)].append(fault.recovery_s)
        return {k: (min(v), statistics.median(v), max(v)) for k, v in sorted(times.items())}

    def render(self) -> str:
        """The report as text."""
        lines = ["== chaos report =="]
        lines.append(
            f"faults injected: {len(self.faults)} "
            + ", ".join(f"{k}: {n}" for k, n in sorted(self.faults_by_kind().items()))
        )
        lines.append("recovery (fault over -> every readyz 200), seconds min / median / max:")
        for kind, (low, mid, high) in self.recovery_by_kind().items():
            outage = [f.outage_s for f in self.faults if str(f.kind) == kind]
            lines.append(
                f"  {kind:<27} {low:6.1f} / {mid:6.1f} / {high:6.1f}"
                f"   (outage median {statistics.median(outage):.1f})"
            )
        lines.append("first 2xx after the fault ended (ingest accepting again), seconds:")
        for kind, delays in sorted(self.first_2xx_after.items()):
            lines.append(
                f"  {kind:<27} {min(delays):6.1f} / {statistics.median(delays):6.1f} / "
                f"{max(delays):6.1f}"
            )
        lines.append(
            f"events sent {self.events_sent}, accepted (2xx) {self.events_accepted}, "
            f"refused or given up {len(self.refused)}, retries {self.retries}"
        )
        lines.append(f"answers seen: {dict(sorted(self.answers.items()))}")
        median, p99, slowest = self.time_to_2xx
        lines.append(
            f"time to 2xx (retries included): median {median:.2f}s, p99 {p99:.2f}s, "
            f"max {slowest:.2f}s"
        )
        lines.append(f"customers checked {self.customers_checked}")
        anomalies = self.anomalies
        if anomalies is not None:
            lines.append(
                f"topic: accepted but missing {len(anomalies.missing)}, on the topic without a "
                f"2xx {len(anomalies.unexpected)}, keyed by two customers {len(anomalies.split)}"
            )
        lines.append(
            f"event_ids written to the topic more than once {self.copies_on_topic} "
            f"(each must count once); dead letters {self.dead_letters}"
        )
        lines.append(f"mismatches {len(self.mismatches)}")
        lines.extend(f"  {m.describe()}" for m in self.mismatches[:20])
        lines.extend(
            f"  refused {event_id}: {why}" for event_id, why in list(self.refused.items())[:10]
        )
        lines.append(
            f"drained (lag 0 in {', '.join(GROUPS)}) {self.drain_s:.1f}s after the load ended; "
            f"final lag {self.final_lag}"
        )
        exits = {k: v for k, v in self.unplanned_exits.items() if v}
        lines.append(f"unplanned exits (restarted by the harness): {exits or 'none'}")
        if self.not_recovered:
            lines.append(f"NOT RECOVERED: {self.not_recovered}")
        lines.append(f"logs: {self.workdir}/logs")
        lines.append("RESULT: " + ("PASS" if self.ok else "FAIL"))
        return "\n".join(lines)


async def _inject_faults(
    cluster: Cluster, config: ChaosConfig, report: ChaosReport, load_done: asyncio.Event
) -> None:
    """Inject the planned faults at their moments; measure each recovery."""
    started = report.load_started
    names = list(cluster.services)
    for planned in plan_faults(faults=config.faults, duration=config.duration, seed=config.seed):
        wait = started + planned.at - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        at = time.monotonic() - started
        logger.warning("chaos: %s at %.1fs", planned.kind, at)
        outage = await asyncio.to_thread(
            inject, cluster, planned.kind, postgres_pause_s=config.postgres_pause_s
        )
        try:
            recovery = await asyncio.to_thread(
                cluster.wait_ready, names, timeout=RECOVERY_TIMEOUT_S
            )
        except TimeoutError as exc:
            report.not_recovered.append(f"{planned.kind} at {at:.1f}s: {exc}")
            recovery = RECOVERY_TIMEOUT_S
        report.faults.append(InjectedFault(planned.kind, at, outage, recovery))
    await load_done.wait()


async def _supervise(cluster: Cluster, stop: asyncio.Event) -> None:
    """Restart services that die by themselves, as an orchestrator would."""
    while not stop.is_set():
        restarted = await asyncio.to_thread(cluster.supervise)
        for name in restarted:
            logger.warning("chaos: %s exited by itself; restarted", name)
        await asyncio.sleep(0.5)


async def _lag(client: httpx.AsyncClient, profile_url: str) -> dict[str, int | None]:
    """Per group: the total lag, None while some non-empty partition has no commit."""
    response = await client.get(f"{profile_url}/v1/ops/lag", params={"refresh": "true"})
    response.raise_for_status()
    lags: dict[str, int | None] = dict.fromkeys(GROUPS)
    for group in response.json()["groups"]:
        if group["group"] not in lags:
            continue
        partitions = group["partitions"]
        if any(p["lag"] is None and p["log_end_offset"] > 0 for p in partitions):
            continue
        lags[group["group"]] = sum(p["lag"] or 0 for p in partitions)
    return lags


async def _wait_drained(cluster: Cluster, limit_s: float) -> tuple[float, dict[str, int | None]]:
    """Seconds until both groups have lag 0 (every service ready); the last lag seen."""
    started = time.monotonic()
    lags: dict[str, int | None] = {}
    async with httpx.AsyncClient(timeout=15.0, headers=cluster.headers) as client:
        while time.monotonic() - started < limit_s:
            try:
                lags = await _lag(client, cluster.url("profile"))
            except httpx.HTTPError as exc:
                logger.info("lag not readable yet: %s", exc)
            else:
                if all(lag == 0 for lag in lags.values()):
                    return time.monotonic() - started, lags
            await asyncio.sleep(1.0)
    return time.monotonic() - started, lags


async def _stop_reader(consumer: AIOKafkaConsumer) -> None:
    """Stop a group-less reader."""
    # aiokafka 0.14's group-less coordinator re-raises the CancelledError of its own
    # background task when stopped before that task ran: not a cancellation of ours.
    with contextlib.suppress(asyncio.CancelledError):
        await consumer.stop()


async def _open_reader(bootstrap: str, topic: str) -> tuple[AIOKafkaConsumer, list[TopicPartition]]:
    """A group-less reader of every partition of `topic` from its start (none: no topic)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    for _ in range(150):  # group-less: every partition is assigned once metadata is in
        if consumer.assignment():
            break
        await asyncio.sleep(0.2)
    return consumer, sorted(consumer.assignment())


async def read_topic(bootstrap: str, topic: str) -> tuple[dict[str, list[str]], int]:
    """event_id -> customers it was keyed by (one per copy), and undecodable records."""
    consumer, partitions = await _open_reader(bootstrap, topic)
    keyed_by: dict[str, list[str]] = defaultdict(list)
    undecodable = 0
    try:
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for tp, records in batches.items():
                for record in records:
                    try:
                        event = decode_event(record.value)
                    except UndecodableEvent:
                        undecodable += 1
                        continue
                    keyed_by[str(event.event_id)].append(event.customer_id)
                if records and records[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await _stop_reader(consumer)
    return dict(keyed_by), undecodable


async def count_records(bootstrap: str, topic: str) -> int:
    """How many records a topic holds (0 when it does not exist)."""
    consumer, partitions = await _open_reader(bootstrap, topic)
    try:
        if not partitions:
            return 0
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        return sum(ends[tp] - starts[tp] for tp in partitions)
    finally:
        await _stop_reader(consumer)


async def fetch_views(
    profile_url: str, customer_ids: set[str], headers: dict[str, str]
) -> tuple[dict[str, str], dict[str, dict[str, Any] | None]]:
    """Survivor of each customer id, and the view of each survivor (None: 404)."""
    survivor: dict[str, str] = {}
    views: dict[str, dict[str, Any] | None] = {}
    gate = asyncio.Semaphore(16)
    async with httpx.AsyncClient(base_url=profile_url, timeout=30.0, headers=headers) as client:

        async def one(customer_id: str) -> None:
            async with gate:
                response = await client.get(f"/v1/customers/{customer_id}")
            if response.status_code == 404:
                survivor[customer_id] = customer_id
                views.setdefault(customer_id, None)
                return
            response.raise_for_status()
            view = response.json()
            survivor[customer_id] = view["customer_id"]
            views[view["customer_id"]] = view

        await asyncio.gather(*(one(c) for c in sorted(customer_ids)))
    return survivor, views


async def check(cluster: Cluster, ledger: Ledger, report: ChaosReport) -> None:
    """Compare the topic and the profile view with the ledger; fill the report."""
    settings = CommonSettings()
    bootstrap = cluster.kafka.bootstrap
    keyed_by, _ = await read_topic(bootstrap, settings.topic_interactions)
    report.dead_letters = await count_records(bootstrap, settings.topic_dead_letter)
    accepted = set(ledger.accepted)
    report.anomalies = find_topic_anomalies(accepted, keyed_by, set(ledger.sent))
    ours = {e: owners for e, owners in keyed_by.items() if e in accepted}
    report.copies_on_topic = sum(1 for owners in ours.values() if len(owners) > 1)
    customer_ids = {owner for owners in ours.values() for owner in owners}
    survivor, views = await fetch_views(cluster.url("profile"), customer_ids, cluster.headers)
    expected = expected_by_customer(ledger.accepted_events(), ours, survivor)
    observed: dict[str, Figures | None] = {
        c: (observed_figures(v) if v is not None else None) for c, v in views.items()
    }
    report.customers_checked = len(expected.keys() | observed.keys())
    report.mismatches = compare(expected, observed)
    await _diagnose(cluster.url("profile"), report, ledger, cluster.headers)


def first_2xx_after(report: ChaosReport, ledger: Ledger) -> dict[str, list[float]]:
    """Per fault kind, seconds from each fault's end to the first 2xx after it (inf: none)."""
    accepted = sorted(at - report.load_started for at in ledger.accepted_at.values())
    last_sent = max(ledger.first_sent.values(), default=0.0) - report.load_started
    delays: dict[str, list[float]] = defaultdict(list)
    for fault in report.faults:
        ended = fault.at + fault.outage_s
        if ended > last_sent:
            continue  # the load was over: nothing was sent that could be accepted
        index = bisect.bisect_left(accepted, ended)
        delay = accepted[index] - ended if index < len(accepted) else math.inf
        delays[str(fault.kind)].append(delay)
    return dict(delays)


async def _diagnose(
    profile_url: str, report: ChaosReport, ledger: Ledger, headers: dict[str, str]
) -> None:
    """Name the event ids behind each mismatch (from the timeline) and the fault before each."""
    async with httpx.AsyncClient(base_url=profile_url, timeout=30.0, headers=headers) as client:
        for mismatch in report.mismatches[:MISMATCHES_DIAGNOSED]:
            response = await client.get(
                f"/v1/customers/{mismatch.customer_id}/timeline", params={"limit": 500}
            )
            if response.status_code != 200:
                mismatch.diagnosis.append(f"timeline: HTTP {response.status_code}")
                continue
            timeline = [str(line["event_id"]) for line in response.json()["timeline"]]
            found = diagnose_timeline(mismatch.event_ids, timeline)
            for what, event_ids in found.items():
                for event_id in event_ids[:10]:
                    mismatch.diagnosis.append(
                        f"{what} {event_id}: {_place(event_id, ledger, report)}"
                    )


def _place(event_id: str, ledger: Ledger, report: ChaosReport) -> str:
    """The event's type and send time, and the last fault injected before it was sent."""
    sent_at = ledger.first_sent.get(event_id)
    event = ledger.sent.get(event_id)
    kind = event["type"] if event else "not sent by this client"
    if sent_at is None:
        return kind
    at = sent_at - report.load_started
    before = [f for f in report.faults if f.at <= at]
    fault = f"after {before[-1].kind} at {before[-1].at:.1f}s" if before else "before any fault"
    return f"{kind} sent at {at:.1f}s, {fault}; answer {ledger.accepted.get(event_id)}"


async def run_chaos(config: ChaosConfig) -> ChaosReport:
    """Start everything, load it under faults, drain, check; the report (also on failure)."""
    workdir = config.workdir or Path(tempfile.mkdtemp(prefix="touchpoint-chaos-"))
    cluster = Cluster(workdir)
    report = ChaosReport(config=config, workdir=str(workdir))
    ledger = Ledger()
    try:
        await asyncio.to_thread(cluster.start)
        key = KeyIn(name="chaos", scopes=sorted(ALL_SCOPES))
        cluster.headers = bearer_headers((await create_key_at(cluster.database_url, key)).token)
        load_done, stop_supervising = asyncio.Event(), asyncio.Event()
        model = TrafficModel(customers=config.customers, seed=config.seed)

        async def load() -> None:
            try:
                await send_recorded(
                    url=cluster.url("ingest"),
                    model=model,
                    rate=config.rate,
                    duration=config.duration,
                    concurrency=config.concurrency,
                    ledger=ledger,
                    give_up_after=GIVE_UP_AFTER_S,
                    stop_after=config.duration + LOAD_OVERRUN_S,
                    headers=cluster.headers,
                )
            finally:
                load_done.set()

        supervisor = asyncio.create_task(_supervise(cluster, stop_supervising))
        report.load_started = time.monotonic()
        await asyncio.gather(load(), _inject_faults(cluster, config, report, load_done))
        report.drain_s, report.final_lag = await _wait_drained(cluster, config.drain_timeout_s)
        stop_supervising.set()
        await supervisor
        if any(lag != 0 for lag in report.final_lag.values()):
            report.not_recovered.append(f"lag not back to 0: {report.final_lag}")
        ready = await asyncio.to_thread(cluster.ready, list(cluster.services))
        report.not_recovered += [
            f"{n} readyz not 200 at the end" for n, ok in ready.items() if not ok
        ]
        await check(cluster, ledger, report)
    finally:
        report.events_sent = len(ledger.sent)
        report.events_accepted = len(ledger.accepted)
        report.refused = dict(ledger.refused)
        report.answers = dict(ledger.answers)
        report.retries = ledger.retries
        report.first_2xx_after = first_2xx_after(report, ledger)
        report.not_recovered += [
            f"{kind}: no 2xx for {delay:.0f}s after the fault"
            for kind, delays in report.first_2xx_after.items()
            for delay in delays
            if delay > RECOVERY_TIMEOUT_S
        ]
        took = sorted(ledger.took.values()) or [0.0]
        report.time_to_2xx = (
            statistics.median(took),
            took[min(len(took) - 1, int(0.99 * len(took)))],
            took[-1],
        )
        report.unplanned_exits = {n: p.unplanned_exits for n, p in cluster.services.items()}
        await asyncio.to_thread(cluster.close)
        (workdir / "report.txt").write_text(report.render())
        (workdir / "ledger.json").write_text(
            json.dumps({"accepted": ledger.accepted, "refused": ledger.refused})
        )
    return report

"""`make bench` / `python -m bench.run`: measure, print a table, write bench/results.json."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import psutil
import typer
from rich.console import Console
from rich.table import Table

from bench import archaeology, ingest, profile, recommend
from bench.at_rate import bench_open_loop
from bench.environment import BenchEnvironment, api_headers, bench_environment
from bench.kafka_reference import bench_kafka_reference
from bench.quix import bench_quix
from bench.report import spreads
from bench.stats import Figure, Report
from bench.summary import add_derived, write_report
from bench.wire import history
from touchpoint_common.db.engine import create_engine, create_session_factory
from touchpoint_common.identity.lookup import find_customer_by_identifier
from touchpoint_common.tasks import stop_task
from touchpoint_devtools.generator.traffic import TrafficModel

app = typer.Typer(add_completion=False, help=__doc__)
RESULTS = Path(__file__).resolve().parent / "results.json"
REPORT_DIR = Path(__file__).resolve().parent.parent / "docs" / "bench"
console = Console()
PERCENTILES = ("p50", "p95", "p99")
RECOMMEND_BENCH_ENV = {
    "TOUCHPOINT_LEARNER_ENABLED": "false",
    "TOUCHPOINT_RECOMMEND_CONFIG_POLL_S": "0",
}
"""The learner is not on the request path; its consumer would only compete for the cores."""


def step(message: str) -> None:
    """Say what is being measured now."""
    console.log(message)


async def run_all(
    env: BenchEnvironment, report: Report, *, seed: int, quick: bool, first: bool = True
) -> None:
    """Every section in an order that keeps them from competing for the 2 cores."""
    settings = env.settings
    engine = create_engine(settings)
    sessions = create_session_factory(engine)
    try:
        step("ingest service (uvicorn) starting")
        ingest_service = await env.start_service("ingest")
        step("ingest: single events, sequential and 16 in flight; batches of 100 and 500")
        await ingest.run_ingest(
            report,
            url=ingest_service.url,
            seed=seed,
            quick=quick,
            service_pid=ingest_service.process.pid,
        )
        step("reference: Kafka's kafka-producer-perf-test on the bench's broker")
        await bench_kafka_reference(report, env, seed=seed, quick=quick)

        now = datetime.now(UTC)
        count = 5000 if quick else 20_000
        step(f"building {count} realistic wire events (generator -> ingest's validate/seal)")
        started = time.perf_counter()
        backlog = history(
            count=count,
            customers=count // 10,
            seed=seed,
            start=now - timedelta(days=60),
            end=now,
            settings=settings,
            prefix="bl-",
        )
        report.facts["wire_event_build_per_s"] = round(count / (time.perf_counter() - started))
        step("profile: pure decode / fold / state size (no I/O)")
        await profile.bench_pure(report, backlog, now=now)
        await profile.bench_state_size(report, settings, now=now, seed=seed)
        step("profile: real consumer on PostgreSQL, batch 1000 and 100; freshness")
        await profile.bench_consumer(
            report,
            settings,
            sessions,
            backlog,
            run_id=env.run_id,
            seed=seed,
            fresh_rate=200.0,
            fresh_seconds=5.0 if quick else 10.0,
        )
        step("quix: a Quix Streams app on the same backlog, exactly-once and at-least-once")
        await bench_quix(report, env, seed=seed, quick=quick)

        group = f"touchpoint-profile-bench-{env.run_id}"
        step("profile service (uvicorn, fold consumer inside) starting on the ingest topic")
        profile_service = await env.start_service("profile", {"TOUCHPOINT_CONSUMER_GROUP": group})
        caught = await profile.wait_service_caught_up(
            sessions, settings, group=group, timeout_s=180
        )
        ends = await profile.end_offsets(settings, settings.topic_interactions)
        report.add(
            profile.SECTION,
            "service consumer catch-up of the ingest backlog",
            sum(ends.values()) / caught,
            "events/s",
            f"{sum(ends.values())} events posted through ingest, {caught:.1f} s from ready "
            "(includes the group join)",
        )

        step("profile: customers with 10 .. 10,000 events posted through ingest (batches)")
        heavy = profile.heavy_histories(now=now, seed=seed, run_id=env.run_id)
        async with httpx.AsyncClient(
            base_url=ingest_service.url, timeout=60.0, headers=api_headers()
        ) as client:
            for events in heavy.values():
                for start in range(0, len(events), 500):
                    response = await client.post(
                        "/v1/events/batch", json={"events": events[start : start + 500]}
                    )
                    response.raise_for_status()
        await profile.wait_service_caught_up(sessions, settings, group=group, timeout_s=180)
        hmac_key = settings.identifier_hmac_key()
        heavy_ids: dict[int, str] = {}
        async with sessions() as session:
            for size in heavy:
                found = await find_customer_by_identifier(
                    db_session=session,
                    kind="loyalty_id",
                    raw=f"L-bench-{env.run_id}-{size}",
                    hmac_key=hmac_key,
                    default_region="CN",
                )
                assert found is not None, f"customer with {size} events not resolved"
                heavy_ids[size] = found
        for size, (text_bytes, stored_bytes, dedup_bytes) in (
            await profile.stored_sizes(sessions, heavy_ids)
        ).items():
            report.add(
                profile.SECTION,
                f"stored state, {size} events over 365 d",
                text_bytes / 1024,
                "KiB",
                f"JSON text the view reads; PostgreSQL stores {stored_bytes / 1024:.1f} KiB "
                f"(TOAST); dedup column {dedup_bytes / 1024:.1f} KiB",
                target="plateaus with N" if size == max(heavy) else "",
            )

        step("profile: view reads")
        typical = await profile.sample_customers(sessions, count=300, seed=seed)
        reads = 100 if quick else 400
        await profile.read_views(
            report,
            profile_service.url,
            name="GET view, typical customer",
            paths=[f"/v1/customers/{cid}" for cid in typical],
            calls=reads,
            target="p99 < 5 ms",
        )
        await profile.read_views(
            report,
            profile_service.url,
            name="GET view, typical customer, 16 in flight",
            paths=[f"/v1/customers/{cid}" for cid in typical],
            calls=reads * 4,
            concurrency=16,
            throughput_target=">= 2,000 reads/s",
            service_pid=profile_service.process.pid,
        )
        for size, cid in heavy_ids.items():
            await profile.read_views(
                report,
                profile_service.url,
                name=f"GET view, customer with {size} events",
                paths=[f"/v1/customers/{cid}"],
                calls=reads // 2,
                target="< 50 ms",
            )
        step("profile: view reads, 16 in flight, on 2 uvicorn workers (API only)")
        two_workers = await env.start_service(
            "profile",
            {"TOUCHPOINT_CONSUMER_ENABLED": "false"},
            workers=2,
            label="profile-2-workers",
        )
        try:
            await profile.read_views(
                report,
                two_workers.url,
                name="GET view, typical customer, 16 in flight, 2 uvicorn workers",
                paths=[f"/v1/customers/{cid}" for cid in typical],
                calls=reads * 4,
                concurrency=16,
                service_pid=two_workers.process.pid,
            )
        finally:
            env.stop_service("profile-2-workers")
        phones = [person.phone for person in TrafficModel(customers=2000, seed=seed).people[:300]]
        await profile.read_views(
            report,
            profile_service.url,
            name="GET lookup?phone= (call centre)",
            paths=[f"/v1/customers/lookup?phone={quote(phone)}" for phone in phones],
            calls=reads,
            target="< 50 ms",
        )

        step("archaeology: the view from raw events on each request vs the stored view")
        await archaeology.bench_archaeology(
            report,
            env,
            seed=seed,
            quick=quick,
            profile_url=profile_service.url,
            group=group,
            longest=first,
        )

        step("recommend service (uvicorn, learner off) starting")
        recommend_service = await env.start_service("recommend", RECOMMEND_BENCH_ENV)
        step("recommend: next-offers")
        await recommend.bench_next_offers(
            report,
            url=recommend_service.url,
            known={
                "typical customer": typical,
                "rich customer (1,000 events)": [heavy_ids[1000]],
                "rich customer (10,000 events)": [heavy_ids[10_000]],
            },
            calls=100 if quick else 200,
            service_pid=recommend_service.process.pid,
        )
        step("recommend: next-offers, 16 in flight, on 2 uvicorn workers")
        two_workers = await env.start_service(
            "recommend", RECOMMEND_BENCH_ENV, workers=2, label="recommend-2-workers"
        )
        try:
            await recommend.decide_loop(
                report,
                url=two_workers.url,
                name="typical customer",
                customer_ids=typical,
                calls=(100 if quick else 200) * 4,
                concurrency=16,
                workers=2,
                service_pid=two_workers.process.pid,
            )
        finally:
            env.stop_service("recommend-2-workers")
        step("open loop: freshness at 500/2,000/5,000 events/s, fixed-rate latency, RSS")
        await bench_open_loop(report, env, seed=seed, quick=quick)
    finally:
        await engine.dispose()


def render(report: Report) -> None:
    """The figures as one rich table; p50/p95/p99 of one measurement share a row."""
    table = Table(title="Touchpoint bench (targets are informational: nothing fails on them)")
    for column in ("section", "figure", "value", "unit", "target", "how"):
        table.add_column(column, overflow="fold")
    rows: dict[tuple[str, str], list[Figure]] = {}
    for figure in report.figures:
        base, _, suffix = figure.name.rpartition(" ")
        key = (figure.section, base if suffix in PERCENTILES else figure.name)
        rows.setdefault(key, []).append(figure)
    for (section, name), figures in rows.items():
        latency = len(figures) == len(PERCENTILES)
        value = " / ".join(f"{f.value:,.1f}" for f in figures)
        unit = f"{figures[0].unit} p50/p95/p99" if latency else figures[0].unit
        target = " ".join(f.target for f in figures if f.target)
        table.add_row(section, name, value, unit, target, figures[0].detail)
    wide = Console(width=max(console.width, 200))
    wide.print(table)
    for fact_name, fact in report.facts.items():
        wide.print(f"[dim]{fact_name}: {fact}[/dim]")


class MachineSampler:
    """The machine's 1-minute load and CPU busy share, sampled while a run goes on."""

    def __init__(self, every_s: float = 2.0) -> None:
        self.every_s = every_s
        self.loads: list[float] = []
        self.busy: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        psutil.cpu_percent()
        while True:
            await asyncio.sleep(self.every_s)
            self.loads.append(os.getloadavg()[0])
            self.busy.append(psutil.cpu_percent())

    def start(self) -> None:
        """Begin sampling in the background."""
        self._task = asyncio.create_task(self._sample())

    async def stop(self) -> dict[str, Any]:
        """Stop sampling; the facts it gathered."""
        if self._task is not None:
            await stop_task(self._task)
        if not self.loads:
            return {}
        return {
            "load_1m_during": f"{statistics.mean(self.loads):.2f} / {max(self.loads):.2f}",
            "machine_cpu_busy_percent_during": round(statistics.mean(self.busy)),
        }


async def bench(*, seed: int, quick: bool, partitions: int, first: bool = True) -> Report:
    """Start everything, measure, tear down: one run."""
    report = Report()
    load_before = os.getloadavg()
    started = time.perf_counter()
    sampler = MachineSampler()
    sampler.start()
    try:
        with tempfile.TemporaryDirectory(prefix="touchpoint-bench-") as workdir:
            async with bench_environment(Path(workdir), partitions) as env:
                report.facts["servers"] = env.servers.describe().splitlines()
                await run_all(env, report, seed=seed, quick=quick, first=first)
    finally:
        report.facts.update(await sampler.stop())
    add_derived(report)
    report.facts.update(
        {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
            "python": platform.python_version(),
            "load_average_1_5_15_before": [round(x, 2) for x in load_before],
            "load_average_1_5_15_after": [round(x, 2) for x in os.getloadavg()],
            "topic_partitions": partitions,
            "seed": seed,
            "quick": quick,
            "services": "real uvicorn processes on 127.0.0.1 (one worker each); the load "
            "generators run in the bench process on the same cores",
            "wall_seconds": round(time.perf_counter() - started, 1),
        }
    )
    return report


@app.command()
def main(
    seed: Annotated[int, typer.Option(help="Random seed of the traffic.")] = 7,
    quick: Annotated[bool, typer.Option(help="About a quarter of the work (smoke run).")] = False,
    runs: Annotated[
        int, typer.Option(min=1, help="Whole runs (fresh database and topics each); spreads.")
    ] = 3,
    partitions: Annotated[int, typer.Option(min=1, help="Interactions topic partitions.")] = 6,
    output: Annotated[
        Path, typer.Option(help="Where to write the JSON of the last run.")
    ] = RESULTS,
    report_dir: Annotated[
        Path | None,
        typer.Option(help="Write report.md, results.json and PNG plots here (docs/bench)."),
    ] = REPORT_DIR,
) -> None:
    """Measure ingest, profile and recommend on real servers; print and save the figures."""
    reports: list[Report] = []
    for index in range(runs):
        console.rule(f"run {index + 1} of {runs}")
        reports.append(
            asyncio.run(
                bench(seed=seed + index, quick=quick, partitions=partitions, first=index == 0)
            )
        )
        render(reports[-1])
        output.write_text(json.dumps(reports[-1].as_json(), indent=2) + "\n", encoding="utf-8")
    console.print(f"last run's results written to {output}")
    if report_dir is not None:
        path = write_report(reports, report_dir, spreads(reports))
        console.print(f"report of {runs} run(s) written to {path}")


if __name__ == "__main__":
    app()

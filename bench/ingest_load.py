"""`python -m bench.ingest_load`: only the ingest hot path, several runs, optionally profiled.

Starts the bench environment (servers, own database and topics) and one ingest service
(uvicorn, `--workers N`), then runs the in-flight scenarios of `bench.ingest` `--runs` times:
single events 64 in flight and batches of 100, 4 in flight. With `--py-spy FILE` the first
worker is sampled by py-spy during the runs (a speedscope/flamegraph file).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import tempfile
from collections.abc import Awaitable
from pathlib import Path
from typing import Annotated

import httpx
import typer

from bench.environment import bench_environment
from bench.ingest import bench_in_flight
from bench.stats import Report, cpu_seconds
from touchpoint_devtools.generator.traffic import TrafficModel

app = typer.Typer(add_completion=False, help=__doc__)
# (events per request or None for single events, requests in flight, most requests a second)
IN_FLIGHT: tuple[tuple[int | None, int, int], ...] = ((100, 4, 200), (None, 64, 3000))


async def server_seconds(url: str) -> tuple[float, float]:
    """(sum, count) of the service's own POST request durations (/metrics)."""
    async with httpx.AsyncClient(base_url=url, timeout=10.0) as client:
        text = (await client.get("/metrics")).text
    totals = {"_sum": 0.0, "_count": 0.0}
    for line in text.splitlines():
        if line.startswith("touchpoint_http_request_duration_seconds") and 'method="POST"' in line:
            for suffix in totals:
                if line.startswith(f"touchpoint_http_request_duration_seconds{suffix}"):
                    totals[suffix] += float(line.rsplit(" ", 1)[1])
    return totals["_sum"], totals["_count"]


async def timed(
    report: Report, pids: list[int], url: str | None, scenario: Awaitable[None]
) -> None:
    """Run a scenario and add the service's CPU milliseconds per accepted event to it, and its
    own mean request duration (what the client's latency adds to it is the client's share;
    `url` None: not measured, as with several workers each keeps its own /metrics)."""
    before, count = cpu_seconds(pids), len(report.figures)
    sum_before, count_before = await server_seconds(url) if url else (0.0, 0.0)
    await scenario
    used = cpu_seconds(pids) - before
    rate = next(f for f in report.figures[count:] if f.name.endswith("throughput"))
    events = rate.value * float(rate.detail.split(" s,")[0].rsplit(" ", 1)[1])
    name = rate.name.removesuffix(" throughput")
    report.add(
        rate.section,
        f"{name} service CPU per event",
        1000 * used / max(1.0, events),
        "ms",
        f"{used:.1f} CPU s for {events:.0f} events (load-independent cost)",
    )
    if url is None:
        return
    sum_after, count_after = await server_seconds(url)
    requests = count_after - count_before
    report.add(
        rate.section,
        f"{name} server-side mean duration",
        1000 * (sum_after - sum_before) / max(1.0, requests),
        "ms",
        f"{requests:.0f} requests timed by the service itself (HTTP_LATENCY)",
    )


def _child_pids(pid: int) -> list[int]:
    """Direct children of `pid` (uvicorn's worker processes)."""
    found = subprocess.run(
        ["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False
    ).stdout
    return [int(line) for line in found.split()]


async def measure(
    *, runs: int, workers: int, seed: int, seconds: float, py_spy: Path | None, single: bool
) -> Report:
    """Start servers and the ingest service, run the scenarios `runs` times."""
    report = Report()
    report.facts["load_average_before"] = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="touchpoint-ingest-bench-") as workdir:
        async with bench_environment(Path(workdir), partitions=6) as env:
            service = await env.start_service(
                "ingest", {"TOUCHPOINT_LOG_LEVEL": "WARNING"}, workers=workers
            )
            model = TrafficModel(customers=2000, seed=seed)
            await bench_in_flight(  # warm-up: pools, caches, the first customers
                Report(),
                url=service.url,
                model=model,
                size=100,
                concurrency=4,
                max_calls=20,
                max_s=10,
            )
            pids = [service.process.pid, *_child_pids(service.process.pid)]
            spy = None
            if py_spy is not None:
                target = (_child_pids(service.process.pid) or [service.process.pid])[0]
                spy = subprocess.Popen(  # noqa: ASYNC220 (returns at once)
                    [
                        "py-spy",
                        "record",
                        "--pid",
                        str(target),
                        "--output",
                        str(py_spy),
                        "--format",
                        "speedscope",
                        "--rate",
                        "100",
                        "--nonblocking",
                    ],
                )
            try:
                for run in range(runs):
                    report.facts[f"load_average_run_{run}"] = [round(x, 2) for x in os.getloadavg()]
                    for size, concurrency, most_per_s in IN_FLIGHT[: 2 if single else 1]:
                        scenario = bench_in_flight(
                            report,
                            url=service.url,
                            model=model,
                            size=size,
                            concurrency=concurrency,
                            max_calls=int(seconds * most_per_s),
                            max_s=seconds,
                        )
                        await timed(report, pids, service.url if workers == 1 else None, scenario)
            finally:
                if spy is not None:
                    spy.send_signal(2)
                    await asyncio.to_thread(spy.wait, 60)
    report.facts["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    report.facts["workers"] = workers
    return report


@app.command()
def main(
    runs: Annotated[int, typer.Option(min=1)] = 3,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes")] = 1,
    seed: Annotated[int, typer.Option()] = 7,
    seconds: Annotated[float, typer.Option(help="Length of each scenario run")] = 10.0,
    single: Annotated[bool, typer.Option(help="Also single events 64 in flight")] = True,
    py_spy: Annotated[Path | None, typer.Option(help="Record a py-spy profile here")] = None,
    output: Annotated[Path | None, typer.Option(help="Write the figures as JSON here")] = None,
) -> None:
    """Measure the ingest hot path and print one line per figure."""
    report = asyncio.run(
        measure(
            runs=runs, workers=workers, seed=seed, seconds=seconds, py_spy=py_spy, single=single
        )
    )
    for figure in report.figures:
        print(f"{figure.name:55s} {figure.value:10.1f} {figure.unit:9s} {figure.detail}")
    print(report.facts)
    if output is not None:
        output.write_text(json.dumps(report.as_json(), indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    app()

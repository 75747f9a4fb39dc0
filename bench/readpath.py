"""`python -m bench.readpath`: CPU per request of the view read and of next-offers.

Wall latency on the shared 2-core machine is mostly other people's load; the CPU time the
service process spends per request (utime + stime from /proc, over many sequential requests)
is the figure that moves with the code. Seeds customers through ingest (so they have
identifiers), lets the profile service fold them, starts recommend, then reads.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import httpx
import psutil
import typer

from bench import profile
from bench.environment import BenchEnvironment, Service, api_headers, bench_environment
from bench.rawhttp import RawConnection
from touchpoint_common.db.engine import create_engine, create_session_factory
from touchpoint_devtools.generator.traffic import TrafficModel

app = typer.Typer(add_completion=False, help=__doc__)
CHANNELS = ("pos", "call_centre", "web")


def prepare_get(url: str, path: str, headers: dict[str, str]) -> bytes:
    """The bytes of a keep-alive GET."""
    host = url.split("//", 1)[1]
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def cpu_seconds(service: Service) -> float:
    """User + system CPU seconds of the service process so far."""
    times = psutil.Process(service.process.pid).cpu_times()
    return float(times.user + times.system)


async def measure(
    service: Service, paths: list[str], *, calls: int, concurrency: int = 1
) -> tuple[float, float, float, int]:
    """(CPU ms per request, wall p50 ms, requests/s, non-2xx) over `calls` GETs."""
    requests = [prepare_get(service.url, path, api_headers()) for path in paths]
    connections = [RawConnection(service.url) for _ in range(concurrency)]
    latencies: list[float] = []
    bad = 0

    async def warm_up(connection: RawConnection) -> None:
        for raw in requests[:20]:
            await connection.request(raw)

    await asyncio.gather(*(warm_up(c) for c in connections))  # connect, fill caches
    counter = iter(range(calls))

    async def worker(connection: RawConnection) -> None:
        nonlocal bad
        for index in counter:
            started = time.perf_counter()
            status, _ = await connection.request(requests[index % len(requests)])
            latencies.append(time.perf_counter() - started)
            bad += status != 200

    cpu_before = cpu_seconds(service)
    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in connections))
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(service) - cpu_before
    for connection in connections:
        await connection.close()
    return 1000 * cpu / calls, 1000 * statistics.median(latencies), calls / elapsed, bad


async def seed(env: BenchEnvironment, *, customers: int, events: int, seed_value: int) -> None:
    """Post `events` events of `customers` people over 60 days through ingest (batches)."""
    ingest = await env.start_service("ingest")
    model = TrafficModel(customers=customers, seed=seed_value)
    now = datetime.now(UTC)
    start = now - timedelta(days=60)
    bodies = [model.next_event(start + (now - start) * i / events) for i in range(events)]
    async with httpx.AsyncClient(base_url=ingest.url, timeout=60, headers=api_headers()) as client:
        for first in range(0, len(bodies), 500):
            response = await client.post(
                "/v1/events/batch", json={"events": bodies[first : first + 500]}
            )
            response.raise_for_status()
    ingest.stop()
    del env.services["ingest"]


def base_env(tree: Path | None) -> dict[str, str]:
    """PYTHONPATH putting another source tree (e.g. `git archive` of the base) ahead of ours."""
    if tree is None:
        return {}
    roots = [tree / "shared", *sorted((tree / "services").iterdir())]
    return {"PYTHONPATH": os.pathsep.join(str(root) for root in roots)}


async def start_pair(
    env: BenchEnvironment, group: str, tree: Path | None, suffix: str
) -> tuple[Service, Service]:
    """A profile service (folding under `group`) and a recommend service from `tree`."""
    extra = base_env(tree)
    profile_service = await env.start_service(
        "profile", {"TOUCHPOINT_CONSUMER_GROUP": group, **extra}, key=f"profile{suffix}"
    )
    recommend_service = await env.start_service(
        "recommend",
        {
            "TOUCHPOINT_LEARNER_ENABLED": "false",
            "TOUCHPOINT_RECOMMEND_CONFIG_POLL_S": "0",
            **extra,
        },
        key=f"recommend{suffix}",
    )
    return profile_service, recommend_service


async def run(*, calls: int, rounds: int, spy: Path | None, trees: dict[str, Path]) -> None:
    """Seed, start profile and recommend (and the base's, when given), measure alternately."""
    with tempfile.TemporaryDirectory(prefix="touchpoint-reads-") as workdir:
        async with bench_environment(Path(workdir), 3) as env:
            await seed(env, customers=300, events=3000, seed_value=7)
            group = f"touchpoint-profile-reads-{env.run_id}"
            engine = create_engine(env.settings)
            sessions = create_session_factory(engine)
            new = await start_pair(env, group, None, "")
            await profile.wait_service_caught_up(sessions, env.settings, group=group, timeout_s=180)
            typical = await profile.sample_customers(sessions, count=200, seed=7)
            variants = {"new": new}
            for label, tree in trees.items():
                pair = await start_pair(env, f"{group}-{label}", tree, f"-{label}")
                # Its fold catches up first: folding must not count as reading.
                await profile.wait_service_caught_up(
                    sessions, env.settings, group=f"{group}-{label}", timeout_s=180
                )
                variants = {label: pair, **variants}
            await engine.dispose()
            views = [f"/v1/customers/{cid}" for cid in typical]
            offers = [
                f"/v1/customers/{cid}/next-offers?channel={CHANNELS[i % 3]}"
                for i, cid in enumerate(typical)
            ]
            print(f"{len(typical)} customers; loadavg {os.getloadavg()}", flush=True)
            for index, (name, paths) in enumerate((("view", views), ("next-offers", offers))):
                cpus: dict[str, list[float]] = {variant: [] for variant in variants}
                spier = None
                if spy is not None:
                    out = spy.with_name(f"{spy.stem}-{name}{spy.suffix}")
                    spier = start_spy(variants["new"][index], out)
                for _ in range(rounds):
                    for variant, services in variants.items():
                        cpu, p50, rate, bad = await measure(services[index], paths, calls=calls)
                        cpus[variant].append(cpu)
                        print(
                            f"{name:12} {variant:5} sequential: CPU {cpu:.2f} ms/req, wall p50 "
                            f"{p50:.2f} ms, {rate:.0f}/s, {bad} not 200",
                            flush=True,
                        )
                if spier is not None:
                    spier.send_signal(2)
                    spier.wait(30)
                for variant, services in variants.items():
                    cpu, p50, rate, bad = await measure(
                        services[index], paths, calls=calls, concurrency=16
                    )
                    print(
                        f"{name:12} {variant:5} 16 in flight: CPU {cpu:.2f} ms/req, wall p50 "
                        f"{p50:.2f} ms, {rate:.0f}/s, {bad} not 200",
                        flush=True,
                    )
                for variant, values in cpus.items():
                    print(
                        f"{name:12} {variant:5} CPU ms/req min {min(values):.2f} median "
                        f"{statistics.median(values):.2f} max {max(values):.2f} "
                        f"({len(values)} rounds)",
                        flush=True,
                    )
            print(f"loadavg {os.getloadavg()}", flush=True)


def start_spy(service: Service, out: Path) -> subprocess.Popen[bytes]:
    """py-spy recording the service into `out` (raw collapsed stacks) until SIGINT."""
    command = [".venv/bin/py-spy", "record", "-p", str(service.process.pid), "-o", str(out)]
    return subprocess.Popen(
        [*command, "-f", "raw", "-r", "200", "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@app.command()
def main(
    calls: Annotated[int, typer.Option(help="Requests per round.")] = 1000,
    rounds: Annotated[int, typer.Option(help="Sequential rounds per path.")] = 3,
    spy: Annotated[Path | None, typer.Option(help="py-spy raw output (per path).")] = None,
    tree: Annotated[
        list[str] | None,
        typer.Option(help="NAME=PATH: a source tree (git archive) measured alongside; repeat."),
    ] = None,
) -> None:
    """Measure CPU per request of the view and of next-offers (min over rounds: the least
    disturbed by the other work on the machine)."""
    trees = {name: Path(path) for name, _, path in (item.partition("=") for item in tree or [])}
    asyncio.run(run(calls=calls, rounds=rounds, spy=spy, trees=trees))


if __name__ == "__main__":
    app()

"""`python -m bench.readpath`: CPU per request of the view read and of next-offers.

Wall latency on the shared 2-core machine is mostly other people's load; the CPU time the
service process spends per request (utime + stime from /proc, over many sequential requests)
is the figure that moves with the code. Seeds customers through ingest (so they have
identifiers), lets the profile service fold them, starts recommend, then reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
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
from sqlalchemy.engine import make_url

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
        "profile", {"TOUCHPOINT_CONSUMER_GROUP": group, **extra}, label=f"profile{suffix}"
    )
    recommend_service = await env.start_service(
        "recommend",
        {
            "TOUCHPOINT_LEARNER_ENABLED": "false",
            "TOUCHPOINT_RECOMMEND_CONFIG_POLL_S": "0",
            **extra,
        },
        label=f"recommend{suffix}",
    )
    return profile_service, recommend_service


async def run(
    *, calls: int, rounds: int, spy: Path | None, trees: dict[str, Path], trips: bool
) -> None:
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
            if trips:
                pg_port = make_url(env.settings.database_url).port or 5432
                for index, (name, paths) in enumerate((("view", views), ("next-offers", offers))):
                    for variant, services in variants.items():
                        per_request = await count_round_trips(
                            services[index], paths, calls=50, port=pg_port
                        )
                        print(
                            f"{name:12} {variant:5} PostgreSQL writes (round trips) per request: "
                            f"{per_request:.2f}",
                            flush=True,
                        )
            # /healthz: the floor (uvicorn, the middleware, a route; no key, no database).
            measured = (
                ("healthz", 0, ["/healthz"]),
                ("view", 0, views),
                ("next-offers", 1, offers),
            )
            for name, index, paths in measured:
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
                reference = cpus[next(iter(trees), "new")]
                for variant, values in cpus.items():
                    ratios = [value / ref for value, ref in zip(values, reference, strict=True)]
                    print(
                        f"{name:12} {variant:5} CPU per request / {next(iter(trees), 'new')}'s "
                        f"in the same round: median {statistics.median(ratios):.3f}",
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


def socket_ports(pid: int) -> dict[int, int]:
    """fd -> remote TCP port of the process's sockets (from /proc)."""
    remote_by_inode: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                remote_by_inode[fields[9]] = int(fields[2].rsplit(":", 1)[1], 16)
    ports: dict[int, int] = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inode = target[8:-1]
                if inode in remote_by_inode:
                    ports[int(fd)] = remote_by_inode[inode]
    return ports


async def count_round_trips(service: Service, paths: list[str], *, calls: int, port: int) -> float:
    """Writes to sockets whose remote port is `port` (PostgreSQL) per request, by strace: one
    write per round trip (asyncpg sends a statement's messages in one write)."""
    pid = service.process.pid
    out = Path(tempfile.mkstemp(prefix="reads-strace-")[1])
    tracer = subprocess.Popen(  # noqa: ASYNC220
        ["strace", "-f", "-p", str(pid), "-e", "trace=write,writev,sendto,sendmsg", "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    await asyncio.sleep(1.5)
    await measure(service, paths, calls=calls)
    await asyncio.sleep(0.5)  # the audit batch of the last request
    ports = socket_ports(pid)
    tracer.send_signal(2)
    tracer.wait(30)
    writes = count_writes(out, ports, port)
    return writes / (calls + 20)  # the warm-up's 20 requests were traced too


def count_writes(trace: Path, ports: dict[int, int], port: int) -> int:
    """Writes in an strace log to the fds whose remote port is `port`; deletes the log."""
    writes = 0
    for line in trace.read_text(errors="replace").splitlines():
        call = line.split(None, 1)[-1]
        name, _, rest = call.partition("(")
        if name in ("write", "writev", "sendto", "sendmsg") and rest[:1].isdigit():
            writes += ports.get(int(rest.split(",", 1)[0])) == port
    trace.unlink()
    return writes


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
    trips: Annotated[
        bool, typer.Option(help="Count PostgreSQL round trips per request first (strace).")
    ] = False,
    tree: Annotated[
        list[str] | None,
        typer.Option(help="NAME=PATH: a source tree (git archive) measured alongside; repeat."),
    ] = None,
) -> None:
    """Measure CPU per request of the view and of next-offers (min over rounds: the least
    disturbed by the other work on the machine)."""
    # A background job of a non-interactive shell starts with SIGINT ignored: restore it, so
    # Ctrl-C / kill -INT still stops the services and drops the database.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    trees = {name: Path(path) for name, _, path in (item.partition("=") for item in tree or [])}
    asyncio.run(run(calls=calls, rounds=rounds, spy=spy, trees=trees, trips=trips))


if __name__ == "__main__":
    app()

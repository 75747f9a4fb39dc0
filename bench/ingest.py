"""Ingest: POST /v1/events latency and throughput, /v1/events/batch throughput."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx

from bench.environment import api_headers
from bench.rawhttp import RawConnection, prepare_post
from bench.stats import Report, ServiceCpu, run_load
from touchpoint_devtools.generator.traffic import TrafficModel

SECTION = "ingest"


async def bench_single(
    report: Report, *, url: str, model: TrafficModel, concurrency: int, max_calls: int, max_s: float
) -> None:
    """One event per request; every 202 means the broker acknowledged it (acks=all)."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=url, timeout=30.0, limits=limits, headers=api_headers()
    ) as client:

        async def post(_: int) -> bool:
            response = await client.post("/v1/events", json=model.next_event(datetime.now(UTC)))
            return response.status_code == 202

        await run_load(post, concurrency=1, max_calls=20, max_s=10)  # warm-up: caches, pools
        result = await run_load(post, concurrency=concurrency, max_calls=max_calls, max_s=max_s)
    label = "sequential" if concurrency == 1 else f"{concurrency} in flight"
    detail = f"{result.calls} requests, {result.failures} not 202, {result.elapsed:.1f} s"
    report.add_latencies(
        SECTION,
        f"POST /v1/events {label}",
        result.latencies,
        detail,
        target="< 50 ms" if concurrency == 1 else "",
    )
    report.add(SECTION, f"POST /v1/events {label} throughput", result.rate, "events/s", detail)


async def bench_batch(
    report: Report, *, url: str, model: TrafficModel, size: int, max_calls: int, max_s: float
) -> None:
    """`size` events per request, one request at a time; throughput counts accepted events."""
    accepted = 0
    async with httpx.AsyncClient(base_url=url, timeout=60.0, headers=api_headers()) as client:

        async def post(_: int) -> bool:
            nonlocal accepted
            now = datetime.now(UTC)
            body = {"events": [model.next_event(now) for _ in range(size)]}
            response = await client.post("/v1/events/batch", json=body)
            if response.status_code not in (200, 202, 207):
                return False
            counts = response.json()
            accepted += int(counts["accepted"])
            return int(counts["accepted"]) == size

        result = await run_load(post, concurrency=1, max_calls=max_calls, max_s=max_s)
    detail = (
        f"{result.calls} batches of {size}, {accepted} accepted, "
        f"{result.failures} incomplete, {result.elapsed:.1f} s (incl. client JSON encoding)"
    )
    report.add(
        SECTION,
        f"POST /v1/events/batch x{size} throughput",
        accepted / result.elapsed,
        "events/s",
        detail,
    )
    report.add_latencies(SECTION, f"POST /v1/events/batch x{size}", result.latencies, detail)


def encoded_bodies(model: TrafficModel, *, size: int | None, count: int) -> list[bytes]:
    """`count` request bodies made before the clock starts (one event, or a batch of `size`)."""
    now = datetime.now(UTC)
    if size is None:
        return [json.dumps(model.next_event(now)).encode() for _ in range(count)]
    return [
        json.dumps({"events": [model.next_event(now) for _ in range(size)]}).encode()
        for _ in range(count)
    ]


async def bench_in_flight(
    report: Report,
    *,
    url: str,
    model: TrafficModel,
    size: int | None,
    concurrency: int,
    max_calls: int,
    max_s: float,
    service_pid: int | None = None,
) -> None:
    """Pre-encoded bodies posted `concurrency` at a time (closed loop) over keep-alive
    connections of a minimal client (httpx would be the bottleneck here): events/s, latency.

    `size` None posts single events to /v1/events, else batches of `size` to /v1/events/batch.
    """
    bodies = encoded_bodies(model, size=size, count=max_calls)
    path = "/v1/events" if size is None else "/v1/events/batch"
    requests = [prepare_post(url, path, body, api_headers()) for body in bodies]
    connections = [RawConnection(url) for _ in range(concurrency)]
    free = list(connections)
    accepted = 0

    async def post(index: int) -> bool:
        nonlocal accepted
        connection = free.pop()
        try:
            status, body = await connection.request(requests[index])
        finally:
            free.append(connection)
        if size is None:
            accepted += status == 202
            return status == 202
        if status not in (200, 207):
            return False
        counts = json.loads(body)
        accepted += int(counts["accepted"]) + int(counts["duplicates"])
        return int(counts["accepted"]) == size

    cpu = ServiceCpu(service_pid)
    try:
        result = await run_load(post, concurrency=concurrency, max_calls=max_calls, max_s=max_s)
    finally:
        for connection in connections:
            await connection.close()
    label = "POST /v1/events" if size is None else f"POST /v1/events/batch x{size}"
    label = f"{label} {concurrency} in flight"
    detail = (
        f"{result.calls} requests, {accepted} events accepted, {result.failures} failed/partial, "
        f"{result.elapsed:.1f} s, bodies encoded beforehand, raw HTTP/1.1 client"
    )
    report.add(
        SECTION,
        f"{label} throughput",
        accepted / result.elapsed,
        "events/s",
        detail,
        target=">= 1,500 events/s" if size is None else ">= 10,000 events/s",
    )
    report.add_latencies(
        SECTION, label, result.latencies, detail, target="p99 < 100 ms" if size is None else ""
    )
    cpu.add(report, SECTION, label, accepted, "event")


async def run_ingest(
    report: Report, *, url: str, seed: int, quick: bool, service_pid: int | None = None
) -> None:
    """Sequential, concurrent, and batched posting of the generator's mixed traffic."""
    model = TrafficModel(customers=2000, seed=seed)
    scale = 0.25 if quick else 0.6
    await bench_single(
        report, url=url, model=model, concurrency=1, max_calls=int(800 * scale), max_s=15 * scale
    )
    await bench_single(
        report,
        url=url,
        model=model,
        concurrency=16,
        max_calls=int(3000 * scale),
        max_s=15 * scale,
    )
    for size, concurrency, calls in ((None, 64, 12_000), (100, 4, 1_200)):
        await bench_in_flight(
            report,
            url=url,
            model=model,
            size=size,
            concurrency=concurrency,
            max_calls=int(calls * scale),
            max_s=15 * scale,
            service_pid=service_pid,
        )
    for size in (100, 500):
        await bench_batch(
            report,
            url=url,
            model=model,
            size=size,
            max_calls=int(40 * scale) or 2,
            max_s=12 * scale,
        )

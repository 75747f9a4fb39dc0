"""Recommend: GET next-offers latency and decisions per second (the outbox write included)."""

from __future__ import annotations

import json
import uuid

from bench.environment import api_headers
from bench.rawhttp import RawPool, prepare_get
from bench.stats import Report, ServiceCpu, run_load

SECTION = "recommend"
CHANNELS = ("pos", "call_centre", "web")


async def decide_loop(
    report: Report,
    *,
    url: str,
    name: str,
    customer_ids: list[str],
    calls: int,
    concurrency: int,
    target: str = "",
    throughput_target: str = "",
    service_pid: int | None = None,
    workers: int = 1,
) -> None:
    """Decisions for `customer_ids` round-robin, channels rotated, `concurrency` in flight."""
    headers = api_headers()
    requests = [
        prepare_get(
            url,
            f"/v1/customers/{customer_ids[index % len(customer_ids)]}/next-offers"
            f"?channel={CHANNELS[index % len(CHANNELS)]}",
            headers,
        )
        for index in range(max(len(customer_ids), len(CHANNELS)) * len(CHANNELS))
    ]
    pool = RawPool(url, concurrency)
    logged = 0

    async def decide(index: int) -> bool:
        nonlocal logged
        status, body = await pool.request(requests[index % len(requests)])
        if status != 200:
            return False
        logged += bool(json.loads(body).get("event_logged"))
        return True

    try:
        await run_load(decide, concurrency=concurrency, max_calls=10, max_s=10)  # warm-up
        logged = 0
        cpu = ServiceCpu(service_pid)
        result = await run_load(decide, concurrency=concurrency, max_calls=calls, max_s=20)
    finally:
        await pool.close()
    detail = (
        f"{result.calls} calls over {len(customer_ids)} customers, channels rotated, "
        f"{result.failures} not 200, {logged} offer_presented written to the outbox, "
        f"{concurrency} in flight, raw HTTP/1.1 client"
    )
    label = f"next-offers, {name}" + (f", {concurrency} in flight" if concurrency > 1 else "")
    label += f", {workers} uvicorn workers" if workers > 1 else ""
    cpu.add(report, SECTION, label, result.calls, "decision")
    report.add_latencies(SECTION, label, result.latencies, detail, target=target)
    if concurrency > 1:
        report.add(
            SECTION,
            f"{label} throughput",
            result.rate,
            "decisions/s",
            detail,
            target=throughput_target,
        )


async def bench_next_offers(
    report: Report,
    *,
    url: str,
    known: dict[str, list[str]],
    calls: int,
    service_pid: int | None = None,
) -> None:
    """Sequential decisions for each group of known customers and for unknown ids; then the
    typical customers 16 in flight."""
    groups: dict[str, list[str]] = {
        **known,
        "unknown customer": [f"unknown-{uuid.uuid4().hex}" for _ in range(calls)],
    }
    for name, customer_ids in groups.items():
        await decide_loop(
            report,
            url=url,
            name=name,
            customer_ids=customer_ids,
            calls=calls,
            concurrency=1,
            target="p99 < 15 ms" if name == "typical customer" else "",
            service_pid=service_pid,
        )
    typical = known.get("typical customer")
    if typical:
        await decide_loop(
            report,
            url=url,
            name="typical customer",
            customer_ids=typical,
            calls=calls * 4,
            concurrency=16,
            throughput_target=">= 1,000 decisions/s",
            service_pid=service_pid,
        )

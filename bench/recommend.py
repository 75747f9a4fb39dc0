"""Recommend: GET next-offers latency, the offer_presented produce (acks=all) included."""

from __future__ import annotations

import uuid

import httpx

from bench.environment import api_headers
from bench.stats import Report, run_load

SECTION = "recommend"
CHANNELS = ("pos", "call_centre", "web")


async def bench_next_offers(
    report: Report, *, url: str, known: dict[str, list[str]], calls: int
) -> None:
    """Sequential decisions for each group of known customers, and for unknown ids."""
    async with httpx.AsyncClient(base_url=url, timeout=30.0, headers=api_headers()) as client:
        groups: dict[str, list[str]] = {
            **known,
            "unknown customer": [f"unknown-{uuid.uuid4().hex}" for _ in range(calls)],
        }
        for name, customer_ids in groups.items():
            logged = 0

            async def decide(index: int, ids: list[str] = customer_ids) -> bool:
                nonlocal logged
                channel = CHANNELS[index % len(CHANNELS)]
                response = await client.get(
                    f"/v1/customers/{ids[index % len(ids)]}/next-offers",
                    params={"channel": channel},
                )
                if response.status_code != 200:
                    return False
                logged += bool(response.json().get("event_logged"))
                return True

            await run_load(decide, concurrency=1, max_calls=10, max_s=10)  # warm-up
            logged = 0
            result = await run_load(decide, concurrency=1, max_calls=calls, max_s=20)
            detail = (
                f"{result.calls} calls over {len(customer_ids)} customers, channels rotated, "
                f"{result.failures} not 200, {logged} offer_presented acknowledged by Kafka"
            )
            report.add_latencies(
                SECTION, f"next-offers, {name}", result.latencies, detail, target="< 50 ms"
            )

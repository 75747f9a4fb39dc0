"""Sending at a steady rate with a cap on requests in flight (the generator's and chaos's load)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from touchpoint_devtools.generator.traffic import Event, TrafficModel


@dataclass(frozen=True)
class Pace:
    """How many events, how fast, how many in flight, and when to start no more (seconds)."""

    total: int
    rate: float
    concurrency: int
    stop_after: float = math.inf


def open_client(
    url: str, concurrency: int, *, headers: dict[str, str] | None = None
) -> httpx.AsyncClient:
    """An HTTP client to the ingest API sized for `concurrency` requests in flight."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(base_url=url, timeout=30.0, limits=limits, headers=headers)


async def send_paced(
    model: TrafficModel,
    pace: Pace,
    post: Callable[[Event], Awaitable[None]],
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> float:
    """`pace.total` events from `model` at `pace.rate` per second through `post`; seconds taken.

    No event is started after `pace.stop_after` seconds (a stalled API must not stretch the
    load for ever); those in flight are awaited.
    """
    total, rate, stop_after = pace.total, pace.rate, pace.stop_after
    gate = asyncio.Semaphore(pace.concurrency)
    start = time.perf_counter()
    pending: set[asyncio.Task[None]] = set()

    async def one(event: Event) -> None:
        try:
            await post(event)
        finally:
            gate.release()

    for index in range(total):
        if time.perf_counter() - start > stop_after:
            break
        delay = start + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await gate.acquire()  # back-pressure: never more than `concurrency` in flight
        task = asyncio.create_task(one(model.next_event(clock())))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.gather(*pending)
    return time.perf_counter() - start

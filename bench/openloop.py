"""A constant-rate (open-loop) load generator: requests leave at fixed scheduled times.

A closed-loop client (N in flight, the next request when one returns) slows down with the
service and so hides its queueing ("coordinated omission"). Here request i is due at
start + i / rate whatever the responses do, and its latency is measured from that scheduled
time: a late send (the generator or the service lagging) counts against it. At most
`max_outstanding` requests are in flight; a request falling due while that many are
outstanding is not sent and is counted as dropped, never silently skipped. So
completed + errors + dropped == scheduled.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Container
from dataclasses import dataclass, field

from bench.stats import percentile

EPSILON = 1e-9
"""Float slack: request i is due at exactly i / rate although i / rate * rate may be i - 1e-16."""


@dataclass(frozen=True)
class Schedule:
    """`rate` requests a second for `seconds`: request i is due `i / rate` s after the start."""

    rate: float
    seconds: float

    def __post_init__(self) -> None:
        """Refuse a schedule that would never send anything."""
        if self.rate <= 0 or self.seconds <= 0:
            raise ValueError("rate and seconds must be positive")

    @property
    def total(self) -> int:
        """How many requests the schedule holds (at least one)."""
        return max(1, round(self.rate * self.seconds))

    def at(self, index: int) -> float:
        """Seconds after the start at which request `index` is due."""
        return index / self.rate

    def due(self, elapsed: float) -> int:
        """How many requests are due `elapsed` s after the start (0 before it, total at most)."""
        if elapsed < 0:
            return 0
        return min(self.total, math.floor(elapsed * self.rate + EPSILON) + 1)


def admit(*, due: int, next_index: int, outstanding: int, cap: int) -> tuple[range, range]:
    """Split the newly due requests [next_index, due) into those sent now (while fewer than
    `cap` are outstanding) and those dropped (due while `cap` were outstanding)."""
    end = max(due, next_index)
    room = max(0, cap - outstanding)
    sent_end = min(end, next_index + room)
    return range(next_index, sent_end), range(sent_end, end)


@dataclass
class OpenLoopResult:
    """What one open-loop run did. Latencies (s) of completed requests count from their
    scheduled times; `send_lags` are how late each sent request left (generator lag)."""

    rate: float
    seconds: float
    scheduled: int
    max_outstanding: int
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    dropped: int = 0
    send_lags: list[float] = field(default_factory=list)
    peak_outstanding: int = 0
    elapsed: float = 0.0
    """From the first scheduled time to the last answer (or the end of the schedule)."""

    @property
    def completed(self) -> int:
        """Requests answered with an expected status."""
        return len(self.latencies)

    @property
    def error_count(self) -> int:
        """Requests sent that failed: unexpected status, connection error, no answer in time."""
        return sum(self.errors.values())

    @property
    def achieved(self) -> float:
        """Completed requests per second of elapsed time."""
        return self.completed / self.elapsed if self.elapsed > 0 else 0.0

    def describe(self) -> str:
        """The counts, the worst latency and the generator's own lag, for a figure's detail."""
        errors = ", ".join(f"{kind}: {n}" for kind, n in sorted(self.errors.items()))
        worst = 1000 * max(self.latencies, default=0.0)
        lag = 1000 * percentile(self.send_lags, 0.99)
        return (
            f"offered {self.rate:g}/s for {self.seconds:g} s: {self.scheduled} scheduled, "
            f"{self.completed} completed, {self.error_count} errors"
            f"{f' ({errors})' if errors else ''}, {self.dropped} dropped (cap "
            f"{self.max_outstanding} outstanding, peak {self.peak_outstanding}); max "
            f"{worst:.1f} ms; {self.elapsed:.1f} s to the last answer; send lag p99 {lag:.1f} ms"
        )


Call = Callable[[int], Awaitable[int]]
"""Send request `index`; its HTTP status."""


async def run_open_loop(
    call: Call,
    *,
    rate: float,
    seconds: float,
    ok: Container[int],
    max_outstanding: int,
    drain_s: float = 15.0,
) -> OpenLoopResult:
    """Send `call(i)` at start + i / rate for `seconds`; then wait up to `drain_s` for the
    requests still outstanding (those left are cancelled and counted as errors)."""
    schedule = Schedule(rate, seconds)
    result = OpenLoopResult(rate, seconds, schedule.total, max_outstanding)
    tasks: set[asyncio.Task[None]] = set()
    outstanding = 0
    last_answer = 0.0
    start = time.perf_counter()

    async def one(index: int) -> None:
        nonlocal outstanding, last_answer
        try:
            status = await call(index)
        except asyncio.CancelledError:
            result.errors["no answer in time"] += 1
            raise
        except Exception as exc:  # any failure of a request is an error, counted by kind
            result.errors[type(exc).__name__] += 1
        else:
            answered = time.perf_counter()
            if status in ok:
                result.latencies.append(answered - (start + schedule.at(index)))
            else:
                result.errors[str(status)] += 1
        finally:
            outstanding -= 1
            last_answer = max(last_answer, time.perf_counter())

    next_index = 0
    while next_index < schedule.total:
        now = time.perf_counter()
        due = schedule.due(now - start)
        sent, dropped = admit(
            due=due, next_index=next_index, outstanding=outstanding, cap=max_outstanding
        )
        for index in sent:
            outstanding += 1
            result.send_lags.append(now - (start + schedule.at(index)))
            task = asyncio.create_task(one(index))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        result.peak_outstanding = max(result.peak_outstanding, outstanding)
        result.dropped += len(dropped)
        next_index = max(next_index, due)
        if next_index < schedule.total:
            await asyncio.sleep(max(0.0, start + schedule.at(next_index) - time.perf_counter()))
    if tasks:
        _, late = await asyncio.wait(set(tasks), timeout=drain_s)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
    result.elapsed = max(last_answer - start, schedule.at(schedule.total - 1), EPSILON)
    return result

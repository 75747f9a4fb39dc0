"""Figures and the timed loops that produce them."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (fraction 0..1) of `values`; 0 when there are none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


@dataclass
class Figure:
    """One measured figure: what, how much, in which unit, measured how; and a target if any."""

    section: str
    name: str
    value: float
    unit: str
    detail: str = ""
    target: str = ""
    """Informational only: what we think is sensible; nothing fails on it."""


@dataclass
class Report:
    """Every figure of a run, plus facts about the run (machine, servers, load)."""

    figures: list[Figure] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    def add(
        self,
        section: str,
        name: str,
        value: float,
        unit: str,
        detail: str = "",
        target: str = "",
    ) -> None:
        """Record one figure."""
        self.figures.append(Figure(section, name, value, unit, detail, target))

    def add_latencies(
        self, section: str, name: str, seconds: list[float], detail: str = "", target: str = ""
    ) -> None:
        """p50/p95/p99 of latencies given in seconds, recorded in milliseconds."""
        for label, fraction in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99)):
            self.add(
                section,
                f"{name} {label}",
                1000 * percentile(seconds, fraction),
                "ms",
                detail,
                target if label == "p99" else "",
            )

    def find(self, section: str, name: str) -> Figure | None:
        """The first figure recorded as (section, name), or None when the run has none."""
        return next((f for f in self.figures if (f.section, f.name) == (section, name)), None)

    def as_json(self) -> dict[str, Any]:
        """The report as plain JSON-able data."""
        return {"facts": self.facts, "figures": [asdict(figure) for figure in self.figures]}


@dataclass
class LoadResult:
    """What a timed loop did: one latency per completed call, failures, wall time."""

    latencies: list[float]
    failures: int
    elapsed: float

    @property
    def calls(self) -> int:
        """Calls completed (successful or not)."""
        return len(self.latencies)

    @property
    def rate(self) -> float:
        """Completed calls per second of wall time."""
        return self.calls / self.elapsed if self.elapsed > 0 else 0.0


async def run_load(
    call: Callable[[int], Awaitable[bool]],
    *,
    concurrency: int,
    max_calls: int,
    max_s: float,
) -> LoadResult:
    """`concurrency` workers call `call(i)` until max_calls or max_s; True = success."""
    latencies: list[float] = []
    failures = 0
    issued = 0
    started = time.perf_counter()
    deadline = started + max_s

    async def worker() -> None:
        nonlocal issued, failures
        while issued < max_calls and time.perf_counter() < deadline:
            index = issued
            issued += 1
            began = time.perf_counter()
            ok = await call(index)
            latencies.append(time.perf_counter() - began)
            if not ok:
                failures += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return LoadResult(latencies, failures, time.perf_counter() - started)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by these processes (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def process_tree(pid: int) -> list[int]:
    """`pid` and its children (uvicorn's worker processes)."""
    found = Path(f"/proc/{pid}/task/{pid}/children")
    children = [int(child) for child in found.read_text().split()] if found.exists() else []
    return [pid, *children]


class ServiceCpu:
    """CPU the service process uses from construction on: the load-independent cost of a
    request, which on a shared machine says more than wall latency does."""

    def __init__(self, pid: int | None) -> None:
        self.pids = process_tree(pid) if pid is not None else []
        self.pid = pid
        self.started = cpu_seconds(self.pids)

    def add(self, report: Report, section: str, label: str, items: int, unit: str) -> None:
        """'<label> service CPU per <unit>' in ms (all its processes), with one core's ceiling."""
        if self.pid is None or items <= 0:
            return
        used = cpu_seconds(self.pids) - self.started
        per = 1000 * used / items
        ceiling = f"{1000 / per:,.0f} {unit}s/s" if per > 0 else "n/a"
        report.add(
            section,
            f"{label} service CPU per {unit}",
            per,
            "ms",
            f"{used:.2f} CPU s of the service process for {items} {unit}s; one core's "
            f"ceiling at this cost: {ceiling}",
        )

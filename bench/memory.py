"""Resident memory (RSS) of the services' processes, sampled in the background under load."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

import psutil

from bench.stats import Report

MIB = 1024 * 1024


def process_tree_rss(pid: int) -> int | None:
    """RSS bytes of a process and all its descendants (uvicorn's workers); None when gone."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return None
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += process.memory_info().rss
    return total


@dataclass
class MemorySamples:
    """RSS samples (MiB) per service name, one every `interval_s` while sampling."""

    pids: Mapping[str, int]
    interval_s: float
    samples: dict[str, list[float]] = field(default_factory=dict)

    def sample_once(self) -> None:
        """One sample of every service still running."""
        for name, pid in self.pids.items():
            rss = process_tree_rss(pid)
            if rss is not None:
                self.samples.setdefault(name, []).append(rss / MIB)

    async def run(self) -> None:
        """Sample until cancelled."""
        while True:
            self.sample_once()
            await asyncio.sleep(self.interval_s)


@contextlib.asynccontextmanager
async def sampling_rss(
    pids: Mapping[str, int], *, interval_s: float = 0.25
) -> AsyncIterator[MemorySamples]:
    """Sample the processes' RSS in the background for the duration of the block."""
    samples = MemorySamples(pids, interval_s)
    task = asyncio.create_task(samples.run())
    try:
        yield samples
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        samples.sample_once()


def add_rss_figures(report: Report, section: str, samples: MemorySamples, during: str) -> None:
    """Peak and median RSS of each service as figures ("RSS <service> under load peak")."""
    for name, values in samples.samples.items():
        detail = (
            f"{len(values)} samples every {samples.interval_s:g} s of the process and its "
            f"children (uvicorn workers) during {during}"
        )
        report.add(section, f"RSS {name} under load peak", max(values), "MiB", detail)
        report.add(
            section, f"RSS {name} under load median", statistics.median(values), "MiB", detail
        )

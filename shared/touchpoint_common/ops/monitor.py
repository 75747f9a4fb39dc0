"""Keeps a recent lag report in memory, refreshed in the background within a time budget."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from touchpoint_common.ops.collector import LagCollector
from touchpoint_common.ops.lag import LagReport
from touchpoint_common.ops.settings import OpsSettings
from touchpoint_common.tasks import stop_task

logger = logging.getLogger(__name__)


class LagUnavailable(RuntimeError):
    """No fresh lag report: the broker did not answer within the time budget."""


class LagMonitor:
    """Collects on a timer; readers (metrics, JSON) only ever see the last good report."""

    def __init__(
        self, *, name: str, collector: LagCollector, settings: OpsSettings | None = None
    ) -> None:
        self.name = name
        self.collector = collector
        self.settings = settings or OpsSettings()
        self.latest: LagReport | None = None
        self.last_success_s: float | None = None
        self.last_error: str | None = None
        self.errors = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def groups(self) -> Sequence[str] | None:
        """The configured groups, or None to watch every group the broker knows."""
        return self.settings.lag_groups or None

    def get_fresh_report(self) -> LagReport | None:
        """The latest report unless it is older than lag_stale_after_s."""
        if self.latest is None:
            return None
        age_s = time.time() - self.latest.collected_at_ms / 1000
        return self.latest if age_s <= self.settings.lag_stale_after_s else None

    async def refresh(self) -> LagReport:
        """Collect now, bounded by lag_timeout_s; raise LagUnavailable on failure."""
        try:
            report = await asyncio.wait_for(
                self.collector.collect(self.groups), timeout=self.settings.lag_timeout_s
            )
        except Exception as exc:  # the broker's failure modes are many; all mean "no report"
            self.errors += 1
            self.last_error = type(exc).__name__
            logger.warning("lag collection failed", extra={"error": self.last_error})
            raise LagUnavailable(f"lag collection failed: {self.last_error}") from exc
        self.latest = report
        self.last_success_s = time.time()
        self.last_error = None
        return report

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(LagUnavailable):
                await self.refresh()
            await asyncio.sleep(self.settings.lag_interval_s)

    def start(self) -> None:
        """Start refreshing in the background (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"lag-monitor-{self.name}")

    async def stop(self) -> None:
        """Stop refreshing and close the broker clients."""
        if self._task is not None:
            await stop_task(self._task)
            self._task = None
        await self.collector.close()

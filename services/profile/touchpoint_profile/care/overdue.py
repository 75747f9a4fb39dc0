"""The overdue-complaints gauge: counted with SQL on a timer, under the current policy.

The fold writes each customer's open complaints (severity, opening time) beside the state
(projection/postgres.py); this counts those past their due time with one query over the rows
that have any (a partial index), every `complaints_overdue_interval_s`. Scrapes only read the
last count. Every replica counts the same table: alert rules take max().
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from fastapi import FastAPI
from prometheus_client import Gauge
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from touchpoint_common.events.payloads import Severity
from touchpoint_common.runtime import Runtime
from touchpoint_common.tasks import stop_task
from touchpoint_profile.fold.rules import ResponseTimes
from touchpoint_profile.projection.postgres import LIVE_TABLE
from touchpoint_profile.settings import ProfileSettings

logger = logging.getLogger(__name__)
COMPLAINTS_OPEN = Gauge("touchpoint_complaints_open", "Open complaints, by severity.", ["severity"])
COMPLAINTS_OVERDUE = Gauge(
    "touchpoint_complaints_overdue",
    "Open complaints past their due time (opened_at + the severity's response time).",
    ["severity"],
)
COMPLAINTS_COUNTED_AT = Gauge(
    "touchpoint_complaints_counted_timestamp_seconds",
    "When the open and overdue complaints were last counted (Unix time).",
)
_SECONDS = "CAST(:{} AS double precision)"


def get_response_seconds_sql(alias: str) -> str:
    """SQL: the response time in seconds of the complaint `alias(severity, ...)` (an unnest of
    the clocks beside the state), under the policy that get_policy_params binds."""
    return (
        f"CASE {alias}.severity "
        + " ".join(f"WHEN '{s.value}' THEN {_SECONDS.format(s.value)}" for s in Severity)
        + f" ELSE {_SECONDS.format('fallback')} END"
    )


DUE_AT = f"(o.opened_at + make_interval(secs => {get_response_seconds_sql('o')}))"
"""SQL: the due time of an open complaint `o(severity, opened_at)` (an unnest of the clocks
beside the state), under the policy that get_policy_params binds."""
_COUNT = text(
    f"SELECT o.severity, count(*) AS open, count(*) FILTER (WHERE {DUE_AT} "  # noqa: S608
    "< CAST(:now AS timestamptz)) AS overdue "
    f"FROM {LIVE_TABLE} AS c, "
    "unnest(c.open_complaint_severity, c.open_complaint_opened_at) AS o(severity, opened_at) "
    "WHERE c.open_complaint_opened_at IS NOT NULL GROUP BY o.severity"
)
"""Open and overdue complaints by severity; the due time is opened_at + the severity's
response time, given as parameters (seconds) so the policy in force is the one counted."""


def get_policy_params(policy: ResponseTimes) -> dict[str, float]:
    """The parameters DUE_AT reads: each severity's response time in seconds."""
    seconds = {name.value: policy.hours(name.value) * 3600 for name in Severity}
    return {**seconds, "fallback": policy.hours(None) * 3600}


async def count_complaints(
    *, db_session: AsyncSession, now: datetime, policy: ResponseTimes
) -> dict[str, tuple[int, int]]:
    """severity -> (open, overdue) at `now` under the response-time policy."""
    rows = await db_session.execute(_COUNT, {**get_policy_params(policy), "now": now})
    return {row.severity: (int(row.open), int(row.overdue)) for row in rows}


def set_gauges(counts: dict[str, tuple[int, int]], at: datetime) -> None:
    """Every severity gets a value (0 when it has none), so old values never linger."""
    for severity in sorted({*(s.value for s in Severity), *counts}):
        open_count, overdue = counts.get(severity, (0, 0))
        COMPLAINTS_OPEN.labels(severity).set(open_count)
        COMPLAINTS_OVERDUE.labels(severity).set(overdue)
    COMPLAINTS_COUNTED_AT.set(at.timestamp())


class OverdueCounter:
    """Counts on a timer; a failed count is logged and the last values stay."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        policy: ResponseTimes,
        interval_s: float,
    ) -> None:
        self.sessions = sessions
        self.policy = policy
        self.interval_s = interval_s
        self.task: asyncio.Task[None] | None = None

    async def refresh(self) -> dict[str, tuple[int, int]]:
        """Count now and set the gauges."""
        now = datetime.now(UTC)
        async with self.sessions() as db_session:
            counts = await count_complaints(db_session=db_session, now=now, policy=self.policy)
        set_gauges(counts, now)
        return counts

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as exc:  # an outage or a schema mid-migration: try next time
                logger.warning("counting overdue complaints failed", extra={"error": repr(exc)})
            await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        """Start counting in the background."""
        self.task = asyncio.create_task(self._run(), name="overdue-complaints")

    async def stop(self) -> None:
        """Stop counting."""
        if self.task is not None:
            await stop_task(self.task)


def start_overdue_counter(app: FastAPI) -> None:
    """Start the app's counter (the profile API process; off when the interval is 0)."""
    runtime: Runtime = app.state.runtime
    settings = runtime.settings
    if not isinstance(settings, ProfileSettings) or settings.complaints_overdue_interval_s <= 0:
        return
    counter = OverdueCounter(
        sessions=runtime.sessions,
        policy=settings.profile_rules.complaint_response_hours,
        interval_s=settings.complaints_overdue_interval_s,
    )
    counter.start()
    app.state.overdue_counter = counter


async def stop_overdue_counter(app: FastAPI) -> None:
    """Stop the app's counter, if it runs."""
    counter: OverdueCounter | None = getattr(app.state, "overdue_counter", None)
    if counter is not None:
        await counter.stop()

"""Runs the ranking job on a schedule inside the profile process (create_service_app hooks)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from fastapi import FastAPI

from touchpoint_common.db.errors import is_retryable
from touchpoint_common.runtime import Runtime
from touchpoint_common.tasks import stop_task
from touchpoint_profile.ranking.metrics import set_figures
from touchpoint_profile.ranking.service import get_latest_run, run_ranking
from touchpoint_profile.settings import ProfileSettings

logger = logging.getLogger(__name__)


async def schedule_rankings(runtime: Runtime, settings: ProfileSettings) -> None:
    """Every `ranking_check_s`: run the job when the newest ranking is older than the interval
    (the advisory lock lets one replica run it; the others find it fresh next time)."""
    while True:
        try:
            await run_ranking(
                sessions=runtime.sessions,
                publisher=runtime.get_publisher(),
                settings=settings,
                now=datetime.now(UTC),
                due_after_s=settings.ranking_interval_s,
            )
        except Exception as exc:
            if not is_retryable(exc):
                logger.exception("ranking job failed")
            else:
                logger.warning("ranking job: database unavailable, next check later")
        await asyncio.sleep(settings.ranking_check_s)


async def start_rankings(app: FastAPI) -> None:
    """Export the newest figures, then start the schedule when an interval is set."""
    runtime: Runtime = app.state.runtime
    settings = runtime.settings
    if not isinstance(settings, ProfileSettings):
        return
    try:
        async with runtime.sessions() as db_session:
            latest = await get_latest_run(db_session=db_session)
        if latest is not None:
            set_figures(latest)
    except Exception as exc:
        if not is_retryable(exc):
            raise
        logger.warning("newest ranking not read at start: database unavailable")
    if settings.ranking_interval_s > 0:
        app.state.ranking_task = asyncio.create_task(
            schedule_rankings(runtime, settings), name="ranking-schedule"
        )


async def stop_rankings(app: FastAPI) -> None:
    """Cancel the schedule (a run in progress rolls back: its transaction never commits)."""
    task: asyncio.Task[None] | None = getattr(app.state, "ranking_task", None)
    if task is not None:
        await stop_task(task)

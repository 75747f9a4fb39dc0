"""Runs the fold consumer inside the API process (create_service_app's start/stop hooks)."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI

from touchpoint_common.runtime import Runtime
from touchpoint_common.tasks import stop_task
from touchpoint_profile.consumer.runner import ProfileConsumer
from touchpoint_profile.settings import ProfileSettings

logger = logging.getLogger(__name__)


async def start_consumer(app: FastAPI) -> None:
    """Start the consumer task when enabled in the settings."""
    runtime: Runtime = app.state.runtime
    settings = runtime.settings
    if not isinstance(settings, ProfileSettings) or not settings.consumer_enabled:
        return
    consumer = ProfileConsumer(
        settings, sessions=runtime.sessions, producer=runtime.get_publisher()
    )
    await consumer.start()
    app.state.profile_consumer = consumer
    app.state.profile_consumer_task = asyncio.create_task(consumer.run(), name="profile-fold")


async def stop_consumer(app: FastAPI) -> None:
    """Cancel the task and leave the group."""
    task: asyncio.Task[None] | None = getattr(app.state, "profile_consumer_task", None)
    if task is not None:
        await stop_task(task)
    consumer: ProfileConsumer | None = getattr(app.state, "profile_consumer", None)
    if consumer is not None:
        await consumer.stop()

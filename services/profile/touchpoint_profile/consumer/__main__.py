"""`python -m touchpoint_profile.consumer`: the fold consumer on its own, without the API."""

from __future__ import annotations

import asyncio
import contextlib
import signal

from touchpoint_common.observability.logging import configure_logging
from touchpoint_common.observability.tracing import configure_tracing, shutdown_tracing
from touchpoint_common.runtime import Runtime
from touchpoint_profile.consumer.runner import ProfileConsumer
from touchpoint_profile.settings import ProfileSettings


async def run_standalone(settings: ProfileSettings) -> None:
    """Start the runtime and the consumer; stop cleanly on SIGINT/SIGTERM."""
    runtime = Runtime(settings)
    await runtime.start()
    consumer = ProfileConsumer(
        settings, sessions=runtime.sessions, producer=runtime.get_publisher()
    )
    await consumer.start()
    task = asyncio.create_task(consumer.run())
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        await consumer.stop()
        await runtime.stop()


def main() -> None:
    """Entry point."""
    settings = ProfileSettings()
    configure_logging(
        service=f"{settings.service_name}-consumer",
        level=settings.log_level,
        json=settings.log_json,
    )
    configure_tracing(settings)
    try:
        asyncio.run(run_standalone(settings))
    finally:
        shutdown_tracing()


if __name__ == "__main__":
    main()

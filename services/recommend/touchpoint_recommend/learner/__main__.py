"""Run the learner on its own: `python -m touchpoint_recommend.learner`."""

from __future__ import annotations

import asyncio

from touchpoint_common.observability.logging import configure_logging
from touchpoint_common.observability.tracing import configure_tracing, shutdown_tracing
from touchpoint_common.runtime import Runtime
from touchpoint_recommend.learner.consumer import Learner
from touchpoint_recommend.settings import RecommendSettings


async def _main() -> None:
    settings = RecommendSettings()
    configure_logging(service="recommend-learner", level=settings.log_level, json=settings.log_json)
    configure_tracing(settings)
    runtime = Runtime(settings)
    await runtime.start()
    learner = Learner(settings, runtime.sessions, runtime.get_publisher())
    await learner.start()
    try:
        await learner.run()
    finally:
        await learner.stop()
        await runtime.stop()
        shutdown_tracing()


if __name__ == "__main__":
    asyncio.run(_main())

"""Background tasks of a service: stopping one is cancelling it and waiting for it to end;
closing clients on shutdown within one time budget."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Sequence
from typing import Any

logger = logging.getLogger(__name__)


async def stop_task(task: asyncio.Task[Any]) -> None:
    """Cancel the task and wait until it has ended (its cancellation is not an error)."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def close_together(closes: Sequence[Awaitable[object]], *, budget_s: float) -> None:
    """Await the closes concurrently, each for at most `budget_s` (so all of them take at most
    that long, not the sum); a close that fails or overruns is logged and left."""

    async def bounded(close: Awaitable[object]) -> None:
        try:
            await asyncio.wait_for(close, timeout=budget_s)
        except Exception as exc:
            logger.warning(
                "a client did not close cleanly within %.0f s; left",
                budget_s,
                extra={"error": type(exc).__name__},
            )

    await asyncio.gather(*(bounded(close) for close in closes))

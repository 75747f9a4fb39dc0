"""Driving two real transactions into a chosen interleaving: who waits for whose lock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

_WAITING_FOR_LOCK = text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :pid")


async def get_backend_pid(session: AsyncSession) -> int:
    """The PostgreSQL backend serving this session's connection."""
    pid = await session.scalar(text("SELECT pg_backend_pid()"))
    assert isinstance(pid, int)
    return pid


async def blocked_or_done(
    observer: async_sessionmaker[AsyncSession],
    pid: int,
    task: asyncio.Task[Any],
    timeout_s: float = 30,
) -> bool:
    """Wait until backend `pid` waits for a lock (True) or `task` ended without waiting (False).

    Either way the task got as far as it can go before the other transaction ends, so what
    happens next does not depend on timing.
    """
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not task.done():
        async with observer() as session:
            if await session.scalar(_WAITING_FOR_LOCK, {"pid": pid}):
                return True
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"backend {pid} neither blocked nor finished")
        await asyncio.sleep(0.005)
    return False


Body = Callable[[AsyncSession], Awaitable[Any]]


async def second_waits_for_first(
    sessions: async_sessionmaker[AsyncSession], first: Body, second: Body
) -> tuple[Any, Any, bool]:
    """Run `first` in a transaction left open, then `second` in another until it blocks (or
    ends), then commit the first and let the second finish and commit. Returns both results
    and whether the second had to wait for the first."""
    async with sessions() as holder, holder.begin():
        first_result = await first(holder)
        started = asyncio.Event()
        pids: list[int] = []

        async def run_second() -> Any:
            async with sessions() as session, session.begin():
                pids.append(await get_backend_pid(session))
                started.set()
                return await second(session)

        task = asyncio.create_task(run_second())
        try:
            await started.wait()
            waited = await blocked_or_done(sessions, pids[0], task)
        except BaseException:
            task.cancel()
            raise
    return first_result, await task, waited

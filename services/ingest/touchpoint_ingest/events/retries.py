"""The retry policy of a pass: run it again on a lost race (the error policy says which)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random

from touchpoint_common.db.errors import is_conflict

T = TypeVar("T")
CONFLICT_ATTEMPTS = 4
# What talking to PostgreSQL raises; `is_retryable` says which are outages (503) or bugs.
DATABASE_ERRORS = (SQLAlchemyError, OSError, TimeoutError)


async def retry_conflicts(work: Callable[[], Awaitable[T]]) -> T:
    """Run `work` again from scratch while it loses races (deadlocks) to concurrent passes."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(is_conflict),
        stop=stop_after_attempt(CONFLICT_ATTEMPTS),
        wait=wait_random(0.005, 0.05),
        reraise=True,
    ):
        with attempt:
            result = await work()
    return result

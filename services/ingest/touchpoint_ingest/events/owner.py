"""Who owns a claim: each ingest process holds an advisory lock on its own id for its lifetime.

A claim is stamped with its owner's id. A claim whose owner's lock is free belongs to a dead
process (PostgreSQL drops session locks with the connection), so a retry takes it over at
once instead of waiting for the claim to go stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from touchpoint_common.tasks import stop_task

logger = logging.getLogger(__name__)
# First key of every ingest owner lock (the second is the instance id): "tpin".
LOCK_NAMESPACE = 0x7470696E
KEEP_EVERY_S = 5.0


class ClaimOwner:
    """This process's id and the connection that holds its advisory lock."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.instance = 0
        self._connection: AsyncConnection | None = None
        self._keeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Pick a free id and lock it; a keeper task takes a new one if the connection drops."""
        await self._acquire()
        self._keeper = asyncio.create_task(self._keep())

    async def close(self) -> None:
        """Release the lock (a clean stop: the claims left are free to take over)."""
        if self._keeper is not None:
            await stop_task(self._keeper)
        await self._drop_connection()

    async def _acquire(self) -> None:
        """Lock a random id nobody holds, on a connection kept for this purpose alone."""
        connection = await self.engine.connect()
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        while True:
            instance = secrets.randbelow(2**31 - 1) + 1
            got = await connection.scalar(
                text("SELECT pg_try_advisory_lock(:ns, :id)"),
                {"ns": LOCK_NAMESPACE, "id": instance},
            )
            if got:
                break
        self._connection, self.instance = connection, instance
        logger.info("claim owner lock held", extra={"instance": instance})

    async def _keep(self) -> None:
        """Check the lock's connection now and then; after a loss, hold a fresh id."""
        while True:
            await asyncio.sleep(KEEP_EVERY_S)
            try:
                assert self._connection is not None
                await self._connection.scalar(text("SELECT 1"))
            except Exception as exc:  # the connection (and with it the lock) is gone
                logger.warning("claim owner lock lost", extra={"error": type(exc).__name__})
                await self._drop_connection()
                with contextlib.suppress(Exception):
                    await self._acquire()

    async def _drop_connection(self) -> None:
        """Close the lock's connection, if any (closing releases the lock)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()

"""Audit of customer reads from the HTTP layer: queued, written in batches off the hot path.

A read answers at once; its audit row joins a bounded queue that one writer per process
drains in multi-row inserts, so a burst of reads costs a few statements and never holds one
pool connection per request. A write that fails is retried once with the next batch, then
logged (the read already happened); a full queue drops rows and counts them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from touchpoint_common.access.dependencies import get_principal
from touchpoint_common.access.service import AuditRow, record_audit_rows
from touchpoint_common.tasks import stop_task

logger = logging.getLogger(__name__)
MAX_QUEUED_ROWS = 10_000
MAX_BATCH_ROWS = 500
AUDIT_DROPPED = Counter(
    "touchpoint_audit_rows_dropped_total",
    "Audit rows not written: the queue was full or the database refused them twice.",
)


@dataclass
class AuditWriter:
    """One per app: a bounded queue of audit rows and the task that writes them."""

    sessions: async_sessionmaker[AsyncSession]
    queue: asyncio.Queue[AuditRow] = field(
        default_factory=lambda: asyncio.Queue(maxsize=MAX_QUEUED_ROWS)
    )
    task: asyncio.Task[None] | None = None

    def add(self, row: AuditRow) -> None:
        """Queue a row (dropped and counted when the queue is full)."""
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._drain(), name="audit")
        try:
            self.queue.put_nowait(row)
        except asyncio.QueueFull:
            AUDIT_DROPPED.inc()

    async def _drain(self) -> None:
        """Write what is queued, a batch at a time, until cancelled."""
        retry: list[AuditRow] = []
        while True:
            rows = retry or [await self.queue.get()]
            while len(rows) < MAX_BATCH_ROWS and not self.queue.empty():
                rows.append(self.queue.get_nowait())
            retry = await self._write(rows, first_try=not retry)

    async def _write(self, rows: list[AuditRow], *, first_try: bool) -> list[AuditRow]:
        """Insert the rows; on failure, the rows to try once more (none on a second failure)."""
        try:
            async with self.sessions() as db_session, db_session.begin():
                await record_audit_rows(db_session=db_session, rows=rows)
        except Exception:
            logger.exception("audit write failed", extra={"rows": len(rows)})
            if first_try:
                await asyncio.sleep(1)
                return rows
            AUDIT_DROPPED.inc(len(rows))
        return []

    async def close(self) -> None:
        """Write what is still queued (best effort), then stop."""
        if self.task is None:
            return
        rows: list[AuditRow] = []
        while not self.queue.empty():
            rows.append(self.queue.get_nowait())
        await stop_task(self.task)
        if rows:
            await self._write(rows, first_try=False)


def get_audit_writer(app: FastAPI) -> AuditWriter:
    """The app's writer (created on first use)."""
    writer: AuditWriter | None = getattr(app.state, "audit_writer", None)
    if writer is None:
        # Autocommit: a batch is one multi-row INSERT, atomic alone (no BEGIN / COMMIT).
        writer = app.state.audit_writer = AuditWriter(app.state.runtime.read_sessions)
    return writer


async def close_audit(app: FastAPI) -> None:
    """Flush and stop the app's writer, if it was used."""
    writer: AuditWriter | None = getattr(app.state, "audit_writer", None)
    if writer is not None:
        await writer.close()


def audit_read(
    request: Request,
    *,
    customer_id: str | None,
    action: str,
    fields: Sequence[str],
) -> None:
    """Record that this request's key read these fields of a customer."""
    get_audit_writer(request.app).add(
        AuditRow(
            key_id=get_principal(request).key_id,
            customer_id=customer_id,
            action=action,
            fields=tuple(fields),
        )
    )

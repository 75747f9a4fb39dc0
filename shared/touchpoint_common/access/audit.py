"""Audit of customer reads from the HTTP layer: written after the answer is sent."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from fastapi import BackgroundTasks, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from touchpoint_common.access.dependencies import get_principal
from touchpoint_common.access.service import record_reads

logger = logging.getLogger(__name__)


async def _write(
    sessions: async_sessionmaker[AsyncSession],
    *,
    key_id: str,
    customer_id: str | None,
    action: str,
    fields: Sequence[str],
) -> None:
    """One audit row in its own transaction; a failure is logged (the read already happened)."""
    try:
        async with sessions() as db_session, db_session.begin():
            await record_reads(
                db_session=db_session,
                key_id=key_id,
                action=action,
                customer_ids=[customer_id],
                fields=fields,
            )
    except Exception:
        logger.exception("audit write failed", extra={"action": action, "key_id": key_id})


def audit_read(
    background: BackgroundTasks,
    request: Request,
    *,
    customer_id: str | None,
    action: str,
    fields: Sequence[str],
) -> None:
    """Record, after the response, that this request's key read these fields of a customer."""
    background.add_task(
        _write,
        request.app.state.runtime.sessions,
        key_id=get_principal(request).key_id,
        customer_id=customer_id,
        action=action,
        fields=list(fields),
    )

"""The event ids ingest accepted recently: claimed (pending) before producing, accepted after.

A retry of an accepted event is answered `duplicate` without producing a second copy; a
reused event_id with different content is a conflict; a claim whose owner died is taken over
at once (its owner's advisory lock is free, see `owner`) or, for claims of unknown owner,
once pending past its timeout. A claim released after a failed produce is deleted, unless
its identify merged customers: then it stays `released` with the merges, so the retry
announces them. Beyond the window only the profile's own dedup by event_id remains.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from uuid import UUID

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    Table,
    Text,
    bindparam,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint_ingest.events.owner import LOCK_NAMESPACE

metadata = MetaData()
ingest_event_ids = Table(
    "ingest_event_ids",
    metadata,
    Column("event_id", PG_UUID(as_uuid=True), primary_key=True),
    Column("fingerprint", Text),
    Column("status", Text),
    Column("customer_id", Text),
    Column("claimed_at", DateTime(timezone=True)),
    Column("accepted_at", DateTime(timezone=True)),
    Column("owner", Integer),
    Column("merged_customer_ids", ARRAY(Text)),
)
PENDING, ACCEPTED, RELEASED = "pending", "accepted", "released"


class ClaimState(StrEnum):
    CLAIMED = "claimed"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    IN_PROGRESS = "in_progress"


async def claim_event_ids(
    *,
    db_session: AsyncSession,
    fingerprints: dict[UUID, str],
    stale_after_s: float,
    owner: int | None = None,
) -> dict[UUID, ClaimState]:
    """Claim event ids as pending for `owner`; ids already known say duplicate, conflict or
    in progress (or are taken over: released, stale, or owned by a dead process)."""
    if not fingerprints:
        return {}
    rows = [
        {"event_id": event_id, "fingerprint": fp, "status": PENDING, "owner": owner}
        for event_id, fp in sorted(fingerprints.items())
    ]
    statement = (
        insert(ingest_event_ids)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(ingest_event_ids.c.event_id)
    )
    claimed = set((await db_session.execute(statement)).scalars())
    states = dict.fromkeys(claimed, ClaimState.CLAIMED)
    for event_id in sorted(set(fingerprints) - claimed):
        states[event_id] = await _get_claim_state(
            db_session, event_id, fingerprints[event_id], stale_after_s, owner
        )
    return states


async def _get_claim_state(
    db_session: AsyncSession, event_id: UUID, fp: str, stale_after_s: float, owner: int | None
) -> ClaimState:
    table = ingest_event_ids.c
    stale = table.claimed_at < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, stale_after_s)
    query = (
        select(table.fingerprint, table.status, table.owner, stale.label("stale"))
        .where(table.event_id == event_id)
        .with_for_update()
    )
    row = (await db_session.execute(query)).one_or_none()
    if row is None:  # released between our insert and this read
        return ClaimState.IN_PROGRESS
    if row.fingerprint != fp:
        return ClaimState.CONFLICT
    if row.status == ACCEPTED:
        return ClaimState.DUPLICATE
    if row.status == PENDING and not row.stale:
        if row.owner is None or row.owner == owner:
            return ClaimState.IN_PROGRESS
        if not await _owner_is_dead(db_session, row.owner):
            return ClaimState.IN_PROGRESS
    await db_session.execute(
        update(ingest_event_ids)
        .where(table.event_id == event_id)
        .values(status=PENDING, claimed_at=func.now(), owner=owner)
    )
    return ClaimState.CLAIMED


async def _owner_is_dead(db_session: AsyncSession, owner: int) -> bool:
    """Whether nobody holds `owner`'s lock (a transaction lock: gone again at commit)."""
    got = await db_session.scalar(
        text("SELECT pg_try_advisory_xact_lock(:ns, :id)"), {"ns": LOCK_NAMESPACE, "id": owner}
    )
    return bool(got)


async def get_recorded_merges(
    *, db_session: AsyncSession, event_ids: Sequence[UUID]
) -> dict[UUID, tuple[str, ...]]:
    """The merges earlier attempts of these (claimed) events made, by event_id."""
    if not event_ids:
        return {}
    table = ingest_event_ids.c
    rows = await db_session.execute(
        select(table.event_id, table.merged_customer_ids).where(
            table.event_id.in_(list(event_ids)), table.merged_customer_ids.is_not(None)
        )
    )
    return {row.event_id: tuple(row.merged_customer_ids) for row in rows}


async def record_merges(*, db_session: AsyncSession, merges: dict[UUID, tuple[str, ...]]) -> None:
    """Keep the merges an identify made with its claim, until it is accepted."""
    if not merges:
        return
    statement = (
        update(ingest_event_ids)
        .where(ingest_event_ids.c.event_id == bindparam("b_event_id"))
        .values(merged_customer_ids=bindparam("b_merged"))
    )
    params = [{"b_event_id": key, "b_merged": list(value)} for key, value in merges.items()]
    await db_session.execute(statement, params)


async def mark_accepted(*, db_session: AsyncSession, customers: dict[UUID, str]) -> None:
    """Record acknowledged event ids, so retries are answered without a second copy."""
    if not customers:
        return
    statement = (
        update(ingest_event_ids)
        .where(ingest_event_ids.c.event_id == bindparam("b_event_id"))
        .values(status=ACCEPTED, accepted_at=func.now(), customer_id=bindparam("b_customer_id"))
    )
    params = [{"b_event_id": key, "b_customer_id": value} for key, value in customers.items()]
    await db_session.execute(statement, params)


async def record_accepted(
    *, db_session: AsyncSession, event_id: UUID, fingerprint: str, customer_id: str
) -> None:
    """Record one event as accepted whatever its claim's state (a late acknowledgement)."""
    statement = insert(ingest_event_ids).values(
        event_id=event_id,
        fingerprint=fingerprint,
        status=ACCEPTED,
        customer_id=customer_id,
        accepted_at=func.now(),
    )
    await db_session.execute(
        statement.on_conflict_do_update(
            index_elements=["event_id"],
            set_={"status": ACCEPTED, "accepted_at": func.now(), "customer_id": customer_id},
        )
    )


async def release_claims(*, db_session: AsyncSession, event_ids: Sequence[UUID]) -> None:
    """Give back pending claims of events that did not reach Kafka, so a retry may produce
    them: deleted, or kept as `released` when they carry merges the retry must announce."""
    if not event_ids:
        return
    table = ingest_event_ids.c
    pending = (table.event_id.in_(list(event_ids)), table.status == PENDING)
    await db_session.execute(
        update(ingest_event_ids)
        .where(*pending, table.merged_customer_ids.is_not(None))
        .values(status=RELEASED, owner=None)
    )
    await db_session.execute(
        delete(ingest_event_ids).where(*pending, table.merged_customer_ids.is_(None))
    )


async def purge_event_ids(*, db_session: AsyncSession, older_than_h: float) -> int:
    """Forget event ids claimed longer ago than the idempotency window; returns how many."""
    result = await db_session.execute(
        text("DELETE FROM ingest_event_ids WHERE claimed_at < now() - make_interval(hours => :h)"),
        {"h": older_than_h},
    )
    return int(getattr(result, "rowcount", 0) or 0)

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


# One statement whatever the batch's size (the same SQL every time: prepared once per
# connection, never recompiled); ids in sorted order, so concurrent claimers do not cross.
_CLAIM = text(
    "INSERT INTO ingest_event_ids (event_id, fingerprint, status, owner) "
    "SELECT wanted.event_id, wanted.fingerprint, 'pending', CAST(:owner AS integer) "
    "FROM unnest(CAST(:event_ids AS uuid[]), CAST(:fingerprints AS text[])) "
    "AS wanted(event_id, fingerprint) ORDER BY wanted.event_id "
    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
).columns(event_id=PG_UUID(as_uuid=True))
_KNOWN_CLAIMS = text(
    "SELECT event_id, fingerprint, status, owner, "
    "claimed_at < now() - make_interval(secs => :stale_after_s) AS stale "
    "FROM ingest_event_ids WHERE event_id = ANY(CAST(:event_ids AS uuid[])) "
    "ORDER BY event_id FOR UPDATE"
).columns(event_id=PG_UUID(as_uuid=True))
_TAKE_OVER = text(
    "UPDATE ingest_event_ids SET status = 'pending', claimed_at = now(), "
    "owner = CAST(:owner AS integer) WHERE event_id = ANY(CAST(:event_ids AS uuid[]))"
)


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
    wanted = sorted(fingerprints.items())
    inserted = await db_session.execute(
        _CLAIM,
        {
            "event_ids": [event_id for event_id, _ in wanted],
            "fingerprints": [fp for _, fp in wanted],
            "owner": owner,
        },
    )
    claimed: set[UUID] = set(inserted.scalars())
    states = dict.fromkeys(claimed, ClaimState.CLAIMED)
    known = sorted(set(fingerprints) - claimed)
    if known:
        states.update(
            await _get_claim_states(db_session, known, fingerprints, stale_after_s, owner)
        )
    return states


async def _get_claim_states(
    db_session: AsyncSession,
    event_ids: list[UUID],
    fingerprints: dict[UUID, str],
    stale_after_s: float,
    owner: int | None,
) -> dict[UUID, ClaimState]:
    """The states of ids that were already claimed, locking their rows; those whose claim may
    be taken over (released, stale, or of a dead owner) are claimed for `owner`."""
    rows = await db_session.execute(
        _KNOWN_CLAIMS, {"event_ids": event_ids, "stale_after_s": stale_after_s}
    )
    found = {row.event_id: row for row in rows}
    states: dict[UUID, ClaimState] = {}
    take_over: list[UUID] = []
    dead: dict[int, bool] = {}
    for event_id in event_ids:
        row = found.get(event_id)
        if row is None:  # released between our insert and this read
            states[event_id] = ClaimState.IN_PROGRESS
        elif row.fingerprint != fingerprints[event_id]:
            states[event_id] = ClaimState.CONFLICT
        elif row.status == ACCEPTED:
            states[event_id] = ClaimState.DUPLICATE
        elif (
            row.status == PENDING
            and not row.stale
            and (
                row.owner is None
                or row.owner == owner
                or not await _owner_is_dead_once(db_session, row.owner, dead)
            )
        ):
            states[event_id] = ClaimState.IN_PROGRESS
        else:
            states[event_id] = ClaimState.CLAIMED
            take_over.append(event_id)
    if take_over:
        await db_session.execute(_TAKE_OVER, {"event_ids": take_over, "owner": owner})
    return states


async def _owner_is_dead_once(db_session: AsyncSession, owner: int, dead: dict[int, bool]) -> bool:
    """`_owner_is_dead`, asked once per owner in a pass."""
    if owner not in dead:
        dead[owner] = await _owner_is_dead(db_session, owner)
    return dead[owner]


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


_MARK_ACCEPTED = text(
    "UPDATE ingest_event_ids AS claim SET status = 'accepted', accepted_at = now(), "
    "customer_id = acked.customer_id "
    "FROM unnest(CAST(:event_ids AS uuid[]), CAST(:customer_ids AS text[])) "
    "AS acked(event_id, customer_id) WHERE claim.event_id = acked.event_id"
)


async def mark_accepted(*, db_session: AsyncSession, customers: dict[UUID, str]) -> None:
    """Record acknowledged event ids, so retries are answered without a second copy."""
    if not customers:
        return
    acked = sorted(customers.items())
    await db_session.execute(
        _MARK_ACCEPTED,
        {
            "event_ids": [event_id for event_id, _ in acked],
            "customer_ids": [customer_id for _, customer_id in acked],
        },
    )


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

"""DDL of the rebuild: a fresh table shaped like the live one, and the atomic swap."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint_profile.projection.postgres import LIVE_TABLE, VALUE_TABLE

FRESH_TABLE = f"{LIVE_TABLE}_rebuild"
FRESH_VALUE_TABLE = f"{VALUE_TABLE}_rebuild"
"""customer_value of the replay: swapped in with the states (tombstones and pointers have no
value row, so it starts empty)."""


async def create_fresh_table(*, db_session: AsyncSession) -> int:
    """An empty copy of the live table, seeded with tombstones and merge pointers; their count.

    Erased customers must stay erased and merged ones must keep pointing at their survivor even
    when the events that did it are older than the replay: those rows are carried over as-is.
    """
    await db_session.execute(text(f"DROP TABLE IF EXISTS {FRESH_TABLE}"))
    await db_session.execute(text(f"CREATE TABLE {FRESH_TABLE} (LIKE {LIVE_TABLE} INCLUDING ALL)"))
    seeded = await db_session.execute(
        text(
            f"INSERT INTO {FRESH_TABLE} SELECT * FROM {LIVE_TABLE} "  # noqa: S608 (constants)
            "WHERE erased OR state->>'merged_into' IS NOT NULL"
        )
    )
    await db_session.execute(text(f"DROP TABLE IF EXISTS {FRESH_VALUE_TABLE}"))
    await db_session.execute(
        text(f"CREATE TABLE {FRESH_VALUE_TABLE} (LIKE {VALUE_TABLE} INCLUDING ALL)")
    )
    return int(seeded.rowcount or 0)  # type: ignore[attr-defined]


async def lock_live_table(*, db_session: AsyncSession) -> None:
    """Stop readers and the live consumer until the swap commits (they wait, then continue)."""
    await db_session.execute(
        text(f"LOCK TABLE {LIVE_TABLE}, {VALUE_TABLE} IN ACCESS EXCLUSIVE MODE")
    )


async def swap_tables(*, db_session: AsyncSession) -> None:
    """Put the fresh tables in place of the live ones (inside the caller's transaction)."""
    for live, fresh in ((LIVE_TABLE, FRESH_TABLE), (VALUE_TABLE, FRESH_VALUE_TABLE)):
        await _swap(db_session, live=live, fresh=fresh)


async def _swap(db_session: AsyncSession, *, live: str, fresh: str) -> None:
    """Replace `live` by `fresh`, keeping the primary key's usual name."""
    old = f"{live}_old"
    await db_session.execute(text(f"ALTER TABLE {live} RENAME TO {old}"))
    await db_session.execute(text(f"ALTER TABLE {fresh} RENAME TO {live}"))
    await db_session.execute(text(f"DROP TABLE {old}"))
    primary_key = await db_session.scalar(
        text(
            "SELECT conname FROM pg_constraint "
            "WHERE conrelid = CAST(:table AS regclass) AND contype = 'p'"
        ),
        {"table": live},
    )
    if primary_key and primary_key != f"{live}_pkey":
        await db_session.execute(
            text(f'ALTER TABLE {live} RENAME CONSTRAINT "{primary_key}" TO {live}_pkey')
        )

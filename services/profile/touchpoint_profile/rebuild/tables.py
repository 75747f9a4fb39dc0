"""DDL of the rebuild: a fresh table shaped like the live one, and the atomic swap."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint_profile.projection.postgres import LIVE_TABLE

FRESH_TABLE = f"{LIVE_TABLE}_rebuild"
OLD_TABLE = f"{LIVE_TABLE}_old"


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
    return int(seeded.rowcount or 0)  # type: ignore[attr-defined]


async def lock_live_table(*, db_session: AsyncSession) -> None:
    """Stop readers and the live consumer until the swap commits (they wait, then continue)."""
    await db_session.execute(text(f"LOCK TABLE {LIVE_TABLE} IN ACCESS EXCLUSIVE MODE"))


async def swap_tables(*, db_session: AsyncSession) -> None:
    """Put the fresh table in place of the live one (inside the caller's transaction)."""
    await db_session.execute(text(f"ALTER TABLE {LIVE_TABLE} RENAME TO {OLD_TABLE}"))
    await db_session.execute(text(f"ALTER TABLE {FRESH_TABLE} RENAME TO {LIVE_TABLE}"))
    await db_session.execute(text(f"DROP TABLE {OLD_TABLE}"))
    primary_key = await db_session.scalar(
        text(
            "SELECT conname FROM pg_constraint "
            "WHERE conrelid = CAST(:table AS regclass) AND contype = 'p'"
        ),
        {"table": LIVE_TABLE},
    )
    if primary_key and primary_key != f"{LIVE_TABLE}_pkey":
        await db_session.execute(
            text(f'ALTER TABLE {LIVE_TABLE} RENAME CONSTRAINT "{primary_key}" TO {LIVE_TABLE}_pkey')
        )

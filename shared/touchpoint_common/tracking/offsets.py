"""Where each tracked consumer is in the log: next offset per partition, compare-and-set.

The positions are written in the same transaction as the state they produced, so the state
and the position can never disagree. Moving a position names the value it is moved from: a
consumer that lost its partitions (a zombie after a rebalance) or a rebuild that moved the
position meanwhile makes the stale writer's whole transaction roll back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

NextOffsets = dict[int, int]
"""partition -> the next offset to read."""
ExpectedOffsets = Mapping[int, int | None]
"""partition -> the stored offset a move starts from (None: nothing stored yet)."""
OFFSETS_TABLE = "consumer_offsets"


class OffsetConflict(RuntimeError):
    """The stored offsets moved under us (another consumer or a rebuild): re-seek and retry."""


class OffsetStore(Protocol):
    """The positions of consumer groups, inside the caller's transaction."""

    async def get_offsets(self, *, group: str, topic: str, for_update: bool = False) -> NextOffsets:
        """partition -> next offset to read, as committed with the state (row-locked if asked)."""
        ...

    async def put_offsets(
        self, *, group: str, topic: str, offsets: Mapping[int, int], expected: ExpectedOffsets
    ) -> None:
        """Move offsets only from the expected values (compare-and-set); else OffsetConflict."""
        ...


_SELECT = text(
    f"SELECT partition, next_offset FROM {OFFSETS_TABLE} "  # noqa: S608 (constant)
    "WHERE group_id = :group AND topic = :topic ORDER BY partition"
)
_INSERT = text(
    f"INSERT INTO {OFFSETS_TABLE} (group_id, topic, partition, next_offset) "  # noqa: S608
    "VALUES (:group, :topic, :partition, :next_offset) "
    "ON CONFLICT DO NOTHING RETURNING partition"
)
_UPDATE = text(
    f"UPDATE {OFFSETS_TABLE} SET next_offset = :next_offset, updated_at = now() "  # noqa: S608
    "WHERE group_id = :group AND topic = :topic AND partition = :partition "
    "AND next_offset = :expected RETURNING partition"
)


class PostgresOffsetStore:
    """OffsetStore on a session whose transaction the caller owns."""

    def __init__(self, db_session: AsyncSession) -> None:
        self.db_session = db_session

    async def get_offsets(self, *, group: str, topic: str, for_update: bool = False) -> NextOffsets:
        """partition -> next offset to read, as committed with the state (row-locked if asked)."""
        query = _SELECT
        if for_update:
            query = text(f"{_SELECT.text} FOR UPDATE")
        rows = await self.db_session.execute(query, {"group": group, "topic": topic})
        return {int(row.partition): int(row.next_offset) for row in rows}

    async def put_offsets(
        self, *, group: str, topic: str, offsets: Mapping[int, int], expected: ExpectedOffsets
    ) -> None:
        """Move offsets only from the expected values (compare-and-set); else OffsetConflict."""
        for partition, next_offset in sorted(offsets.items()):
            was = expected.get(partition)
            params = {"group": group, "topic": topic, "partition": partition}
            params |= {"next_offset": next_offset, "expected": was}
            statement = _INSERT if was is None else _UPDATE
            if was is None:
                params.pop("expected")
            moved = (await self.db_session.execute(statement, params)).scalar_one_or_none()
            if moved is None:
                raise OffsetConflict(f"{group}/{topic}/{partition}: stored offset is not {was}")

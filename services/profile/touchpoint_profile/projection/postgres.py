"""PostgreSQL adapter of ProjectionStore: JSONB states and a consumer-offsets table."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint_profile.fold.state import CustomerState
from touchpoint_profile.projection.store import OffsetConflict, PartitionOffsets

LIVE_TABLE = "profile_customers"
OFFSETS_TABLE = "profile_offsets"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def check_table_name(name: str) -> str:
    """Table names are interpolated into SQL: only plain lower-case identifiers pass."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain table name: {name!r}")
    return name


class PostgresProjection:
    """ProjectionStore on a session whose transaction the caller owns."""

    def __init__(self, db_session: AsyncSession, *, table: str = LIVE_TABLE) -> None:
        self.db_session = db_session
        self.table = check_table_name(table)

    async def get_states_for_update(self, customer_ids: Sequence[str]) -> dict[str, CustomerState]:
        """Rows locked in customer_id order, so two transactions never deadlock on each other."""
        if not customer_ids:
            return {}
        query = text(
            f"SELECT customer_id, state::text AS state FROM {self.table} "  # noqa: S608 (checked name)
            "WHERE customer_id = ANY(:ids) ORDER BY customer_id FOR UPDATE"
        )
        rows = await self.db_session.execute(query, {"ids": sorted(set(customer_ids))})
        return {row.customer_id: CustomerState.model_validate_json(row.state) for row in rows}

    async def get_state(self, customer_id: str) -> CustomerState | None:
        """One state, no lock."""
        query = text(
            f"SELECT state::text AS state FROM {self.table} WHERE customer_id = :id"  # noqa: S608
        )
        raw = (await self.db_session.execute(query, {"id": customer_id})).scalar_one_or_none()
        return None if raw is None else CustomerState.model_validate_json(raw)

    async def put_states(self, states: Sequence[CustomerState]) -> None:
        """Upsert in one statement per batch (executemany)."""
        if not states:
            return
        statement = text(
            f"INSERT INTO {self.table} (customer_id, state, erased, updated_at) "  # noqa: S608
            "VALUES (:customer_id, CAST(:state AS jsonb), :erased, now()) "
            "ON CONFLICT (customer_id) DO UPDATE SET state = EXCLUDED.state, "
            "erased = EXCLUDED.erased, updated_at = now()"
        )
        rows = [
            {
                "customer_id": state.customer_id,
                "state": state.model_dump_json(),
                "erased": state.is_erased,
            }
            for state in sorted(states, key=lambda s: s.customer_id)
        ]
        await self.db_session.execute(statement, rows)

    async def get_offsets(self, *, group: str, topic: str) -> PartitionOffsets:
        """partition → next offset."""
        query = text(
            f"SELECT partition, next_offset FROM {OFFSETS_TABLE} "  # noqa: S608
            "WHERE consumer_group = :group AND topic = :topic"
        )
        rows = await self.db_session.execute(query, {"group": group, "topic": topic})
        return {row.partition: row.next_offset for row in rows}

    async def put_offsets(
        self,
        *,
        group: str,
        topic: str,
        offsets: Mapping[int, int],
        expected: Mapping[int, int | None],
    ) -> None:
        """Compare-and-set per partition: a zombie consumer or a stale position cannot commit."""
        for partition, next_offset in sorted(offsets.items()):
            params = {
                "group": group,
                "topic": topic,
                "partition": partition,
                "next_offset": next_offset,
                "expected": expected.get(partition),
            }
            if params["expected"] is None:
                statement = text(
                    f"INSERT INTO {OFFSETS_TABLE} "  # noqa: S608
                    "(consumer_group, topic, partition, next_offset) "
                    "VALUES (:group, :topic, :partition, :next_offset) "
                    "ON CONFLICT DO NOTHING RETURNING partition"
                )
                params.pop("expected")
            else:
                statement = text(
                    f"UPDATE {OFFSETS_TABLE} SET next_offset = :next_offset, "  # noqa: S608
                    "updated_at = now() WHERE consumer_group = :group AND topic = :topic "
                    "AND partition = :partition AND next_offset = :expected RETURNING partition"
                )
            moved = (await self.db_session.execute(statement, params)).scalar_one_or_none()
            if moved is None:
                raise OffsetConflict(
                    f"{group}/{topic}/{partition}: stored offset is not {expected.get(partition)}"
                )

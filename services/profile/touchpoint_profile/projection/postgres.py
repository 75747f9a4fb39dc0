"""PostgreSQL adapter of ProjectionStore: one JSONB state per customer."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint_profile.fold.state import CustomerState

LIVE_TABLE = "profile_customers"
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

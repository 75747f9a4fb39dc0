"""PostgreSQL adapter of ProjectionStore: one JSONB state per customer (its dedup sets apart,
in the `dedup` column the view never reads), and its narrow customer_value row (written in the
same transaction)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint_profile.fold.care import (
    get_closed_complaint_clocks,
    get_open_commitment_dues,
    get_open_complaint_clocks,
)
from touchpoint_profile.fold.state import CustomerState, dump_state_parts, load_state_parts
from touchpoint_profile.fold.value_row import CustomerValueRow

LIVE_TABLE = "profile_customers"
VALUE_TABLE = "customer_value"
"""The narrow value rows (migration 0010) the ranking job and the managers' figures read."""
PLACEHOLDER = "'null'::jsonb"
"""The state of a row that only holds a lock for a customer not folded yet: read as absent."""
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def check_table_name(name: str) -> str:
    """Table names are interpolated into SQL: only plain lower-case identifiers pass."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain table name: {name!r}")
    return name


class PostgresProjection:
    """ProjectionStore on a session whose transaction the caller owns."""

    def __init__(
        self,
        db_session: AsyncSession,
        *,
        table: str = LIVE_TABLE,
        value_table: str = VALUE_TABLE,
    ) -> None:
        self.db_session = db_session
        self.table = check_table_name(table)
        self.value_table = check_table_name(value_table)
        self.placeholders: set[str] = set()
        """Placeholder rows this transaction inserted; put_states removes the ones not written."""
        self._delete_placeholders = text(
            f"DELETE FROM {self.table} "  # noqa: S608 (checked name)
            f"WHERE customer_id = ANY(:ids) AND state = {PLACEHOLDER}"
        )
        self._insert_placeholders = text(
            f"INSERT INTO {self.table} (customer_id, state) "  # noqa: S608 (checked name)
            f"SELECT customer_id, {PLACEHOLDER} FROM unnest(CAST(:ids AS text[])) AS customer_id "
            "ORDER BY customer_id ON CONFLICT (customer_id) DO NOTHING RETURNING customer_id"
        )

    async def get_states_for_update(self, customer_ids: Sequence[str]) -> dict[str, CustomerState]:
        """Rows locked in customer_id order; an absent id gets a placeholder row, locked too.

        `FOR UPDATE` locks nothing where no row exists, so a first fold of a new customer and a
        merge pointer written for it by another partition's consumer would both upsert blindly
        and the later commit would erase the earlier (a lost pointer, or a lost event). With a
        placeholder every touched row exists and both queue on its lock; the second then reads
        what the first wrote. The common case (every row exists) stays one statement.
        """
        wanted = sorted(set(customer_ids))
        if not wanted:
            return {}
        documents = await self._lock_rows(wanted)
        absent = [customer_id for customer_id in wanted if customer_id not in documents]
        if absent:
            inserted = await self.db_session.execute(self._insert_placeholders, {"ids": absent})
            self.placeholders.update(inserted.scalars())
            documents.update(await self._lock_rows(absent))
        return {
            customer_id: load_state_parts(*document)
            for customer_id, document in documents.items()
            if document is not None
        }

    async def _lock_rows(self, customer_ids: list[str]) -> dict[str, tuple[str, str | None] | None]:
        """customer_id → its (state, dedup) as JSON (None: a placeholder), rows locked in id
        order."""
        query = text(
            f"SELECT customer_id, NULLIF(state, {PLACEHOLDER})::text AS state, "  # noqa: S608
            f"dedup FROM {self.table} WHERE customer_id = ANY(:ids) "
            "ORDER BY customer_id FOR UPDATE"
        )
        rows = await self.db_session.execute(query, {"ids": customer_ids})
        return {
            row.customer_id: None if row.state is None else (row.state, row.dedup) for row in rows
        }

    async def get_state(self, customer_id: str) -> CustomerState | None:
        """One state for reading, no lock (a placeholder reads as None); its dedup sets are not
        loaded (the view never needs them; only the fold, through get_states_for_update)."""
        query = text(
            f"SELECT NULLIF(state, {PLACEHOLDER})::text AS state "  # noqa: S608 (checked name)
            f"FROM {self.table} WHERE customer_id = :id"
        )
        raw = (await self.db_session.execute(query, {"id": customer_id})).scalar_one_or_none()
        return None if raw is None else CustomerState.model_validate_json(raw)

    async def get_trace_parent(self, customer_id: str) -> str | None:
        """The traceparent of the record whose fold last wrote this row (None: none known)."""
        query = text(
            f"SELECT trace_parent FROM {self.table} WHERE customer_id = :id"  # noqa: S608
        )
        found = await self.db_session.execute(query, {"id": customer_id})
        trace_parent: str | None = found.scalar_one_or_none()
        return trace_parent

    async def put_states(
        self, states: Sequence[CustomerState], *, traces: Mapping[str, str] | None = None
    ) -> None:
        """Upsert in one statement per batch (executemany); unused placeholders are deleted.

        Beside the state: the open complaints' severities and opening times (NULL for none),
        which the overdue-complaints gauge and the worklist count (touchpoint_profile.care);
        the due times of open commitments (the worklist); the resolved complaints' severity,
        resolution time, hours to resolve and satisfaction (the ranking job's complaint
        figures); the traceparent of the record that last wrote it (NULL: none, or tracing
        off). Migrations 0013, 0015 and 0016."""
        traces = traces or {}
        unused = self.placeholders - {state.customer_id for state in states}
        self.placeholders.clear()
        if unused:
            await self.db_session.execute(self._delete_placeholders, {"ids": sorted(unused)})
        if not states:
            return
        statement = text(
            f"INSERT INTO {self.table} (customer_id, state, dedup, erased, updated_at, "  # noqa: S608
            f"{', '.join(CARE_COLUMNS)}, trace_parent) "
            "VALUES (:customer_id, CAST(:state AS jsonb), :dedup, :erased, now(), "
            + ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in CARE_COLUMNS.items())
            + ", :trace_parent) ON CONFLICT (customer_id) DO UPDATE SET state = EXCLUDED.state, "
            "dedup = EXCLUDED.dedup, "
            "erased = EXCLUDED.erased, updated_at = now(), "
            + ", ".join(f"{name} = EXCLUDED.{name}" for name in CARE_COLUMNS)
            + ", trace_parent = EXCLUDED.trace_parent"
        )
        rows = []
        for state in sorted(states, key=lambda s: s.customer_id):
            clocks = get_open_complaint_clocks(state)
            closed = get_closed_complaint_clocks(state)
            body, dedup = dump_state_parts(state)
            rows.append(
                {
                    "customer_id": state.customer_id,
                    "state": body,
                    "dedup": dedup,
                    "erased": state.is_erased,
                    "open_complaint_severity": [severity for severity, _ in clocks] or None,
                    "open_complaint_opened_at": [opened_at for _, opened_at in clocks] or None,
                    "open_commitment_due_at": get_open_commitment_dues(state) or None,
                    "closed_complaint_severity": [c.severity for c in closed] or None,
                    "closed_complaint_resolved_at": [c.resolved_at for c in closed] or None,
                    "closed_complaint_hours": [c.hours_to_resolve for c in closed] or None,
                    "closed_complaint_satisfaction": [c.satisfaction for c in closed] or None,
                    "trace_parent": traces.get(state.customer_id),
                }
            )
        await self.db_session.execute(statement, rows)

    async def put_values(self, *, rows: Sequence[CustomerValueRow], removed: Sequence[str]) -> None:
        """One multi-row upsert of the rows (unnest of column arrays, in customer_id order) and
        one delete of the removed customers' rows."""
        if removed:
            await self.db_session.execute(
                text(f"DELETE FROM {self.value_table} WHERE customer_id = ANY(:ids)"),  # noqa: S608
                {"ids": list(removed)},
            )
        if not rows:
            return
        ordered = sorted(rows, key=lambda row: row.customer_id)
        columns = {
            name: [_carried(getattr(row, name), kind) for row in ordered]
            for name, kind in VALUE_COLUMNS.items()
        }
        await self.db_session.execute(self._upsert_values, columns)

    @property
    def _upsert_values(self) -> TextClause:
        """INSERT ... SELECT FROM unnest(arrays) ON CONFLICT DO UPDATE, for value_table."""
        names = ", ".join(VALUE_COLUMNS)
        arrays = ", ".join(
            f"CAST(:{name} AS {_carrier(kind)}[])" for name, kind in VALUE_COLUMNS.items()
        )
        values = ", ".join(
            f"CAST({name} AS {kind})" if kind.endswith("[]") else name
            for name, kind in VALUE_COLUMNS.items()
        )
        updates = ", ".join(
            f"{name} = EXCLUDED.{name}" for name in VALUE_COLUMNS if name != "customer_id"
        )
        return text(
            f"INSERT INTO {self.value_table} ({names}) "  # noqa: S608 (checked name, constants)
            f"SELECT {values} FROM unnest({arrays}) AS v({names}) "
            f"ON CONFLICT (customer_id) DO UPDATE SET {updates}"
        )


VALUE_COLUMNS: dict[str, str] = {
    "customer_id": "text",
    "reporting_currency": "text",
    "as_of": "timestamptz",
    "window_frequency": "integer",
    "window_monetary": "numeric",
    "window_profit": "numeric",
    "lifetime_purchases": "integer",
    "lifetime_monetary": "numeric",
    "lifetime_profit": "numeric",
    "first_seen_at": "timestamptz",
    "first_purchase_at": "timestamptz",
    "last_purchase_at": "timestamptz",
    "member_tier": "text",
    "preferred_store": "text",
    "care_calls": "date[]",
    "care_visits": "date[]",
}
"""customer_value's columns (CustomerValueRow's fields) and their PostgreSQL types."""
CARE_COLUMNS: dict[str, str] = {
    "open_complaint_severity": "text",
    "open_complaint_opened_at": "timestamptz",
    "open_commitment_due_at": "timestamptz",
    "closed_complaint_severity": "text",
    "closed_complaint_resolved_at": "timestamptz",
    "closed_complaint_hours": "double precision",
    "closed_complaint_satisfaction": "smallint",
}
"""The care columns beside each state (element types; each column is an array, NULL for none)."""


def _carrier(kind: str) -> str:
    """The element type a column travels as in the unnest: an array column as its text (unnest
    of a two-dimensional array would flatten it)."""
    return "text" if kind.endswith("[]") else kind


def _carried(value: object, kind: str) -> object:
    """A value as it travels: an array column as a PostgreSQL array literal (NULL when empty)."""
    if not kind.endswith("[]"):
        return value
    items = value if isinstance(value, list) else []
    return "{" + ",".join(str(item) for item in items) + "}" if items else None

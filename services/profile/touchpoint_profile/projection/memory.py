"""An in-memory StateStore, for the fold's unit tests and the pure-fold benchmark (no I/O)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from touchpoint_profile.fold.state import CustomerState
from touchpoint_profile.fold.value_row import CustomerValueRow


class MemoryStates:
    """StateStore in a dict: states as JSON like the JSONB column, or as the objects themselves."""

    def __init__(self, *, serialize: bool = True) -> None:
        self.serialize = serialize
        self.objects: dict[str, CustomerState] = {}
        self.documents: dict[str, str] = {}
        self.values: dict[str, CustomerValueRow] = {}
        """customer_value rows by customer_id."""
        self.locked: list[list[str]] = []
        """The ids of every get_states_for_update call, in order (one entry per statement)."""

    async def get_states_for_update(self, customer_ids: Sequence[str]) -> dict[str, CustomerState]:
        """Stored states of these customers (nothing is locked in memory; the call is recorded)."""
        self.locked.append(list(customer_ids))
        return self._read(customer_ids)

    async def get_state(self, customer_id: str) -> CustomerState | None:
        """One state (not recorded as a lock)."""
        return self._read([customer_id]).get(customer_id)

    def _read(self, customer_ids: Sequence[str]) -> dict[str, CustomerState]:
        """The stored states of these customers, absent ones left out."""
        if self.serialize:
            return {
                cid: CustomerState.model_validate_json(self.documents[cid])
                for cid in customer_ids
                if cid in self.documents
            }
        return {cid: self.objects[cid] for cid in customer_ids if cid in self.objects}

    async def put_states(
        self, states: Sequence[CustomerState], *, traces: Mapping[str, str] | None = None
    ) -> None:
        """Replace these states (the traces are not kept in memory)."""
        for state in states:
            if self.serialize:
                self.documents[state.customer_id] = state.model_dump_json()
            else:
                self.objects[state.customer_id] = state

    async def put_values(self, *, rows: Sequence[CustomerValueRow], removed: Sequence[str]) -> None:
        """Replace these customer_value rows; forget the removed ones."""
        for customer_id in removed:
            self.values.pop(customer_id, None)
        self.values.update({row.customer_id: row for row in rows})

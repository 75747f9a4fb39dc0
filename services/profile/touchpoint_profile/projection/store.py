"""The interface the fold's I/O needs: customer states, locked for update in one transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from touchpoint_profile.fold.state import CustomerState
from touchpoint_profile.fold.value_row import CustomerValueRow


class StateStore(Protocol):
    """What folding a batch needs: states locked for update, and writing them back."""

    async def get_states_for_update(self, customer_ids: Sequence[str]) -> dict[str, CustomerState]:
        """The stored states of these customers, row-locked until commit (absent: not returned)."""
        ...

    async def put_states(
        self, states: Sequence[CustomerState], *, traces: Mapping[str, str] | None = None
    ) -> None:
        """Insert or replace these states; `traces` names the trace each was written in."""
        ...

    async def put_values(self, *, rows: Sequence[CustomerValueRow], removed: Sequence[str]) -> None:
        """Insert or replace these customer_value rows; delete the rows of `removed`."""
        ...


class ProjectionStore(StateStore, Protocol):
    """One transaction's view of the projection; the caller begins and commits it."""

    async def get_state(self, customer_id: str) -> CustomerState | None:
        """One customer's state without locking, or None."""
        ...

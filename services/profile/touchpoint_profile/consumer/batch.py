"""One batch of events folded into the projection inside the caller's transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from touchpoint_common.events.models import IdentifyWirePayload
from touchpoint_common.events.payloads import EventType
from touchpoint_profile.fold.events import ParsedEvent
from touchpoint_profile.fold.fold import fold_into, is_duplicate, merge_states, prune
from touchpoint_profile.fold.rules import FoldRules
from touchpoint_profile.fold.state import CustomerState, new_state, tombstone
from touchpoint_profile.projection.store import ProjectionStore

Eraser = Callable[[str], Awaitable[list[str]]]
"""Erases a customer from the identity tables; returns every customer id it erased."""
MAX_MERGE_HOPS = 5


@dataclass
class BatchOutcome:
    """What a batch did, for metrics and tests."""

    folded: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    ignored_erased: int = 0
    erased: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)


class _States:
    """The batch's working set: rows locked on first touch, changed ones written at the end."""

    def __init__(self, store: ProjectionStore) -> None:
        self.store = store
        self.loaded: dict[str, CustomerState | None] = {}
        self.changed: dict[str, CustomerState] = {}

    async def lock(self, customer_ids: set[str]) -> None:
        """Lock and load these rows in one statement; absent ones are remembered as absent."""
        found = await self.store.get_states_for_update(sorted(customer_ids))
        self.loaded.update({customer_id: found.get(customer_id) for customer_id in customer_ids})

    async def get(self, customer_id: str) -> CustomerState | None:
        if customer_id not in self.loaded:
            found = await self.store.get_states_for_update([customer_id])
            self.loaded[customer_id] = found.get(customer_id)
        return self.loaded[customer_id]

    async def live_id(self, customer_id: str) -> str:
        """Follow merged_into pointers: events for a merged customer land on the survivor."""
        current = customer_id
        for _ in range(MAX_MERGE_HOPS):
            state = await self.get(current)
            if state is None or state.merged_into is None:
                return current
            current = state.merged_into
        return current

    def put(self, state: CustomerState) -> None:
        self.loaded[state.customer_id] = state
        self.changed[state.customer_id] = state


def _customer_ids(events: Sequence[ParsedEvent]) -> set[str]:
    ids = {parsed.event.customer_id for parsed in events}
    for parsed in events:
        if isinstance(parsed.payload, IdentifyWirePayload):
            ids.update(parsed.payload.merged_customer_ids)
    return ids


async def apply_batch(
    *,
    store: ProjectionStore,
    events: Sequence[ParsedEvent],
    now: datetime,
    rules: FoldRules,
    erase: Eraser,
) -> BatchOutcome:
    """Fold events (in arrival order per customer) into their locked states and write them."""
    outcome = BatchOutcome()
    states = _States(store)
    await states.lock(_customer_ids(events))
    for parsed in events:
        customer_id = await states.live_id(parsed.event.customer_id)
        state = await states.get(customer_id) or new_state(customer_id)
        if state.is_erased:
            outcome.ignored_erased += 1
            continue
        if is_duplicate(state, parsed):
            outcome.duplicates += 1
            continue
        outcome.folded[parsed.event.type.value] += 1
        if parsed.event.type == EventType.ERASE:
            for erased_id in sorted({customer_id, *await erase(customer_id)}):
                states.put(tombstone(erased_id, parsed.event.occurred_at))
                outcome.erased.append(erased_id)
            continue
        state = fold_into(state, parsed, now, rules)
        if isinstance(parsed.payload, IdentifyWirePayload):
            for source_id in parsed.payload.merged_customer_ids:
                source = await states.get(source_id)
                if source_id == customer_id or (
                    source and (source.merged_into or source.is_erased)
                ):
                    continue
                if source is not None:
                    state = merge_states(state, source, now, rules)
                # A pointer, also when the source has no row yet: its late events follow it here.
                states.put(CustomerState(customer_id=source_id, merged_into=customer_id))
                outcome.merged.append(source_id)
        states.put(state)
    for changed in states.changed.values():
        prune(changed, now, rules)
    await store.put_states(list(states.changed.values()))
    return outcome

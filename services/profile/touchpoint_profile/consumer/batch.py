"""One batch of events folded into the projection inside the caller's transaction.

The I/O shell around the pure fold_batch: lock and load the states it needs, fold, run the
identity erasures it asks for, tombstone what they erased, write the states.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from touchpoint_profile.fold.events import ParsedEvent
from touchpoint_profile.fold.fold import (
    BatchOutcome,
    StoredStates,
    fold_batch,
    states_needed,
    tombstone_erased,
)
from touchpoint_profile.fold.rules import FoldRules
from touchpoint_profile.fold.state import CustomerState
from touchpoint_profile.projection.store import StateStore

__all__ = ["BatchOutcome", "Eraser", "apply_batch", "lock_states"]

Eraser = Callable[[str], Awaitable[list[str]]]
"""Erases a customer from the identity tables; returns every customer id it erased."""


async def lock_states(store: StateStore, events: Sequence[ParsedEvent]) -> StoredStates:
    """Lock and load every state the batch may touch: one statement, another per pointer hop
    (the store locks absent ids too, so a pointer another partition writes meanwhile is read
    here after its commit and followed, never written over)."""
    states: dict[str, CustomerState | None] = {}
    wanted = states_needed(states, events)
    while wanted:
        found = await store.get_states_for_update(sorted(wanted))
        states.update({customer_id: found.get(customer_id) for customer_id in wanted})
        wanted = states_needed(states, events)
    return states


async def apply_batch(
    *,
    store: StateStore,
    events: Sequence[ParsedEvent],
    now: datetime,
    rules: FoldRules,
    erase: Eraser,
) -> BatchOutcome:
    """Fold events (in arrival order per customer) into their locked states and write them."""
    folded = fold_batch(await lock_states(store, events), events, now, rules)
    erased_with = {
        erasure.customer_id: await erase(erasure.customer_id) for erasure in folded.erasures
    }
    settled = tombstone_erased(folded, erased_with)
    await store.put_states(list(settled.states.values()))
    return settled.outcome

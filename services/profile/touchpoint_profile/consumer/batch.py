"""One batch of events folded into the projection inside the caller's transaction.

The I/O shell around the pure fold_batch: lock and load the states it needs, fold, run the
identity erasures it asks for, tombstone what they erased, write the states and their
customer_value rows (erased and merged-away customers lose theirs).
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
from touchpoint_profile.fold.value_row import get_value_row, has_value_row
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
    states = list(settled.states.values())
    await store.put_states(states, traces=get_traces(events))
    await put_value_rows(store, states, now=now, rules=rules)
    return settled.outcome


def get_traces(events: Sequence[ParsedEvent]) -> dict[str, str]:
    """customer_id -> the traceparent of its newest record in the batch that carried one."""
    return {e.event.customer_id: e.trace_parent for e in events if e.trace_parent is not None}


async def put_value_rows(
    store: StateStore, states: Sequence[CustomerState], *, now: datetime, rules: FoldRules
) -> None:
    """The customer_value rows of the written states, in one statement; others removed."""
    await store.put_values(
        rows=[get_value_row(state, now, rules) for state in states if has_value_row(state)],
        removed=sorted(state.customer_id for state in states if not has_value_row(state)),
    )

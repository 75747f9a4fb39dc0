"""The fold's one entry point: `fold_batch(states, events, now, rules) -> BatchFold`, pure.

The caller (consumer/batch.py) loads the stored states a batch may touch (`states_needed`
says which), folds, runs the identity erasures the result asks for, gives their answers to
`tombstone_erased`, and writes `BatchFold.states`. Inside the fold: events for a merged
customer land on the survivor (merged_into pointers, followed over the given states), an
identify event merges its sources and leaves pointers behind, an erase leaves a tombstone,
and an event already folded counts as a duplicate. `fold` and `fold_many` are the one-customer
views of fold_batch.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from touchpoint_common.events.models import IdentifyWirePayload
from touchpoint_common.events.payloads import EventType, UnmergePayload
from touchpoint_common.identity.merges import MAX_MERGE_HOPS, MergeChainBroken, follow_merges
from touchpoint_profile.fold.apply import apply_event, is_duplicate, own_copy, prune
from touchpoint_profile.fold.events import ParsedEvent
from touchpoint_profile.fold.merge import merge_states
from touchpoint_profile.fold.rules import DEFAULT_RULES, FoldRules
from touchpoint_profile.fold.state import CustomerState, new_state, tombstone
from touchpoint_profile.fold.unmerge import restored, split_states

StoredStates = Mapping[str, CustomerState | None]
"""customer_id → the stored state, None for a customer with no row yet."""


class StateNotLoaded(LookupError):
    """fold_batch needed a state it was not given: the caller must load states_needed first."""


@dataclass
class BatchOutcome:
    """What a batch did, for metrics and tests."""

    folded: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    ignored_erased: int = 0
    erased: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    unmerged: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Erasure:
    """An erase the batch folded: the identity tables must forget this customer too."""

    customer_id: str
    erased_at: datetime


@dataclass(frozen=True)
class BatchFold:
    """fold_batch's answer: the states to write, the identity erasures to run, the counts."""

    states: dict[str, CustomerState]
    """Every new or changed state (tombstones and merge pointers included), by customer_id."""
    erasures: list[Erasure]
    outcome: BatchOutcome


def merge_sources(parsed: ParsedEvent) -> list[str]:
    """The customers an identify event merges into its customer, or the one an unmerge splits
    off (none for other events)."""
    payload = parsed.payload
    if isinstance(payload, UnmergePayload):
        return [payload.customer_id]
    return list(payload.merged_customer_ids) if isinstance(payload, IdentifyWirePayload) else []


def states_needed(states: StoredStates, events: Iterable[ParsedEvent]) -> set[str]:
    """Ids fold_batch may read that `states` lacks; load them (absent as None) and ask again."""
    needed: set[str] = set()
    for parsed in events:
        needed.update(source for source in merge_sources(parsed) if source not in states)
        current = parsed.event.customer_id
        for _ in range(MAX_MERGE_HOPS + 1):
            if current not in states:
                needed.add(current)
                break
            stored = states[current]
            if stored is None or stored.merged_into is None:
                break
            current = stored.merged_into
    return needed


class _WorkingSet:
    """The batch's states: the given ones are read, never changed; writes go to copies."""

    def __init__(self, given: StoredStates) -> None:
        self.given = given
        self.changed: dict[str, CustomerState] = {}

    def read(self, customer_id: str) -> CustomerState | None:
        """The customer's current state in this batch (None: never seen)."""
        if customer_id in self.changed:
            return self.changed[customer_id]
        if customer_id not in self.given:
            raise StateNotLoaded(customer_id)
        return self.given[customer_id]

    def writable(self, customer_id: str) -> CustomerState:
        """The batch's own copy of the customer's state, made on first write."""
        if customer_id not in self.changed:
            stored = self.read(customer_id)
            self.changed[customer_id] = own_copy(stored) if stored else new_state(customer_id)
        return self.changed[customer_id]

    def write(self, state: CustomerState) -> None:
        """Replace the customer's state in this batch."""
        self.changed[state.customer_id] = state

    def merged_into(self, customer_id: str) -> str | None:
        """The customer this one was merged into, None when live or never seen."""
        state = self.read(customer_id)
        return None if state is None else state.merged_into

    def live_id(self, customer_id: str) -> str:
        """Follow merged_into pointers: events for a merged customer land on the survivor.
        A broken chain (a cycle: corrupt rows) keeps the event on its own customer."""
        try:
            return follow_merges(customer_id, self.merged_into)
        except MergeChainBroken:
            return customer_id


def _merge_sources_into(
    work: _WorkingSet,
    customer_id: str,
    parsed: ParsedEvent,
    now: datetime,
    rules: FoldRules,
    outcome: BatchOutcome,
) -> None:
    """Absorb an identify event's merged customers into customer_id; leave pointers behind."""
    for source_id in merge_sources(parsed):
        source = work.read(source_id)
        if source_id == customer_id or (source and (source.merged_into or source.is_erased)):
            continue
        if source is not None:
            work.write(merge_states(work.writable(customer_id), source, now, rules))
        # A pointer, also when the source has no row yet: its late events follow it here. It
        # keeps the source's state as merged, which an unmerge subtracts and restores.
        snapshot = source or CustomerState(customer_id=source_id)
        work.write(snapshot.model_copy(deep=True, update={"merged_into": customer_id}))
        outcome.merged.append(source_id)


def _split_off(work: _WorkingSet, customer_id: str, loser_ids: list[str]) -> list[str]:
    """Undo merges: each loser's state as merged comes back, the survivor loses what it
    brought; returns the losers split off."""
    split: list[str] = []
    for loser_id in loser_ids:
        loser = work.read(loser_id)
        if loser is None or loser.merged_into != customer_id or loser.is_erased:
            continue  # not merged here (or already split: a redelivery): nothing to undo
        survivor = work.read(customer_id) or new_state(customer_id)
        work.write(split_states(survivor, loser))
        work.write(restored(loser))
        split.append(loser_id)
    return split


def fold_batch(
    states: StoredStates,
    events: Sequence[ParsedEvent],
    now: datetime,
    rules: FoldRules = DEFAULT_RULES,
) -> BatchFold:
    """Fold events (arrival order) into the given states at fold time `now`; inputs unchanged."""
    work = _WorkingSet(states)
    outcome = BatchOutcome()
    erasures: list[Erasure] = []
    for parsed in events:
        customer_id = work.live_id(parsed.event.customer_id)
        state = work.read(customer_id) or new_state(customer_id)
        if state.is_erased:
            outcome.ignored_erased += 1
            continue
        if is_duplicate(state, parsed):
            outcome.duplicates += 1
            continue
        outcome.folded[parsed.event.type.value] += 1
        if parsed.event.type == EventType.UNMERGE:
            outcome.unmerged += _split_off(work, customer_id, merge_sources(parsed))
            continue
        if parsed.event.type == EventType.ERASE:
            work.write(tombstone(customer_id, parsed.event.occurred_at))
            erasures.append(Erasure(customer_id, parsed.event.occurred_at))
            outcome.erased.append(customer_id)
            continue
        apply_event(work.writable(customer_id), parsed, now, rules)
        _merge_sources_into(work, customer_id, parsed, now, rules, outcome)
    for changed in work.changed.values():
        prune(changed, now, rules)
    return BatchFold(states=work.changed, erasures=erasures, outcome=outcome)


def tombstone_erased(batch: BatchFold, erased_with: Mapping[str, Iterable[str]]) -> BatchFold:
    """The batch once the identity store ran its erasures: every id it erased is tombstoned."""
    states = dict(batch.states)
    erased: list[str] = []
    for erasure in batch.erasures:
        for customer_id in sorted({erasure.customer_id, *erased_with.get(erasure.customer_id, ())}):
            states[customer_id] = tombstone(customer_id, erasure.erased_at)
            erased.append(customer_id)
    outcome = dataclasses.replace(batch.outcome, erased=erased)
    return BatchFold(states=states, erasures=batch.erasures, outcome=outcome)


def fold_many(
    state: CustomerState,
    events: Iterable[ParsedEvent],
    now: datetime,
    rules: FoldRules = DEFAULT_RULES,
) -> CustomerState:
    """One customer's state after its own events: fold_batch, merge sources taken as unknown."""
    own_events = list(events)
    strangers = {parsed.event.customer_id for parsed in own_events} - {state.customer_id}
    if strangers:
        raise ValueError(f"events of {sorted(strangers)} cannot fold into {state.customer_id}")
    given: dict[str, CustomerState | None] = {state.customer_id: state}
    given.update(dict.fromkeys(states_needed(given, own_events)))
    batch = fold_batch(given, own_events, now, rules)
    return batch.states.get(state.customer_id, state)


def fold(
    state: CustomerState, event: ParsedEvent, now: datetime, rules: FoldRules = DEFAULT_RULES
) -> CustomerState:
    """The state after one event, evaluated at fold time `now`; the input is not changed."""
    return fold_many(state, [event], now, rules)

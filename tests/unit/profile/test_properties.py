"""Property tests of the fold (fold_batch and its one-customer wrappers): arrival order,
duplicates and batching never change the result."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.profile.factories import (
    CUSTOMER,
    NOW,
    call,
    commitment_fulfilled,
    complaint,
    complaint_resolved,
    complaint_step,
    consent,
    event,
    membership,
    offer_presented,
    offer_response,
    page_view,
    purchase,
    refund,
)
from touchpoint_profile.fold.care import get_closed_complaint_clocks, is_commitment_live
from touchpoint_profile.fold.evaluate import evaluate
from touchpoint_profile.fold.events import ParsedEvent
from touchpoint_profile.fold.fold import (
    StoredStates,
    fold,
    fold_batch,
    fold_many,
    states_needed,
    tombstone_erased,
)
from touchpoint_profile.fold.rules import FoldRules
from touchpoint_profile.fold.state import CustomerState, dump_state_parts, new_state

RULES = FoldRules(timeline_size=6)
CATEGORIES = st.sampled_from(["tents", "bags", "shoes"])
MOMENTS = st.integers(min_value=0, max_value=150 * 24 * 60).map(
    lambda minutes: NOW - timedelta(minutes=minutes)
)
STORES = st.sampled_from([None, "12", "7"])
IDS = st.sampled_from(["a", "b", "c"])
COMPLAINT_STEPS: dict[str, Any] = {
    "complaint_assigned": lambda draw: {"owner": draw(st.sampled_from(["ann", "bo"]))},
    "complaint_escalated": lambda draw: {"escalated_to": draw(st.sampled_from(["lead", "cfo"]))},
    "complaint_remedy": lambda draw: {},
    "complaint_resolved": lambda draw: {},
    "complaint_follow_up": lambda draw: {"satisfaction": draw(st.integers(1, 5))},
}
"""Each later step of a complaint and the values it draws (opening: factories.complaint)."""


@st.composite
def events(draw: st.DrawFn, customers: st.SearchStrategy[str] = st.just(CUSTOMER)) -> ParsedEvent:
    """One event of a random type, for a customer of `customers`, in the last 150 days."""
    at = draw(MOMENTS)
    common: dict[str, Any] = {"at": at, "store_id": draw(STORES), "customer_id": draw(customers)}
    kind = draw(st.integers(min_value=0, max_value=13))
    amount = f"{draw(st.integers(min_value=1, max_value=90_000)) / 100:.2f}"
    if kind == 0:
        return purchase(amount, category=draw(CATEGORIES), **common)
    if kind == 1:
        return refund(amount, **common)
    if kind == 2:
        return page_view(draw(CATEGORIES), **common)
    if kind == 3:
        zone = draw(CATEGORIES)
        return event("store_visit", {"zone": zone, "dwell_seconds": 60}, channel="store", **common)
    if kind == 4:
        return complaint(draw(IDS), **common)
    if kind == 5:
        return complaint_resolved(draw(IDS), **common)
    if kind == 6:
        return offer_presented(draw(IDS), ["o1", "o2"], **common)
    if kind == 7:
        return offer_response(
            draw(IDS), "o1", draw(st.sampled_from(["accepted", "rejected", "ignored"])), **common
        )
    if kind == 9:
        return consent(
            draw(st.sampled_from(["granted", "withdrawn"])),
            purpose=draw(st.sampled_from(["marketing", "profiling"])),
            covers=draw(st.sampled_from(["pos", "web", "sms"])),
            **common,
        )
    if kind == 10:
        step = draw(st.sampled_from(sorted(COMPLAINT_STEPS)))
        return complaint_step(step, draw(IDS), **COMPLAINT_STEPS[step](draw), **common)
    if kind == 11:
        due_at = NOW + timedelta(hours=draw(st.integers(min_value=-400, max_value=400)))
        promised = draw(st.one_of(st.none(), IDS))
        return call(note=draw(st.booleans()), commitment_id=promised, due_at=due_at, **common)
    if kind == 12:
        return commitment_fulfilled(draw(IDS), **common)
    if kind == 13:
        step = draw(st.sampled_from(["complaint_assigned", "complaint_follow_up"]))
        return complaint_step(step, draw(IDS), **COMPLAINT_STEPS[step](draw), **common)
    return membership(draw(st.sampled_from(["joined", "left", "tier_changed"])), "gold", **common)


HISTORIES = st.lists(events(), min_size=1, max_size=25)
CUSTOMERS = st.sampled_from(["a", "b", "c", "d"])


@st.composite
def linking_events(draw: st.DrawFn) -> ParsedEvent:
    """An event of one of four customers: sometimes an identify merging others, rarely an erase."""
    kind = draw(st.integers(min_value=0, max_value=19))
    at, customer_id = draw(MOMENTS), draw(CUSTOMERS)
    if kind == 0:
        return event("erase", {}, at=at, customer_id=customer_id)
    if kind <= 3:
        merged = draw(st.lists(CUSTOMERS, max_size=2, unique=True))
        payload = {"linked": [], "merged_customer_ids": merged}
        return event("identify", payload, at=at, customer_id=customer_id)
    return draw(events(CUSTOMERS))


STREAMS = st.lists(linking_events(), min_size=1, max_size=30)


def view_of(state: CustomerState) -> dict[str, Any]:
    """The view at NOW as plain data."""
    return evaluate(state, NOW, RULES).model_dump(mode="json")


@settings(max_examples=150, deadline=None)
@given(history=HISTORIES, data=st.data())
def test_any_arrival_order_gives_the_same_view(history: list[ParsedEvent], data: Any) -> None:
    """Late and out-of-order events: any permutation folds to the same view."""
    shuffled = data.draw(st.permutations(history))
    in_order = fold_many(new_state(CUSTOMER), history, NOW, RULES)
    other_order = fold_many(new_state(CUSTOMER), shuffled, NOW, RULES)
    assert view_of(in_order) == view_of(other_order)


@settings(max_examples=150, deadline=None)
@given(history=HISTORIES, data=st.data())
def test_duplicates_never_count_twice(history: list[ParsedEvent], data: Any) -> None:
    """Redelivering any subset of events, anywhere in the stream, gives the same view as once."""
    repeats = data.draw(st.lists(st.sampled_from(history), max_size=10))
    with_duplicates = data.draw(st.permutations(history + repeats))
    once = fold_many(new_state(CUSTOMER), history, NOW, RULES)
    twice = fold_many(new_state(CUSTOMER), with_duplicates, NOW, RULES)
    assert view_of(once) == view_of(twice)


@settings(max_examples=100, deadline=None)
@given(history=HISTORIES, cut=st.integers(min_value=0, max_value=25))
def test_batches_and_single_folds_agree(history: list[ParsedEvent], cut: int) -> None:
    """Folding in two batches, or one event at a time, equals one batch."""
    whole = fold_many(new_state(CUSTOMER), history, NOW, RULES)
    first_part = fold_many(new_state(CUSTOMER), history[:cut], NOW, RULES)
    split = fold_many(first_part, history[cut:], NOW, RULES)
    one_by_one = new_state(CUSTOMER)
    for parsed in history:
        one_by_one = fold(one_by_one, parsed, NOW, RULES)
    assert view_of(whole) == view_of(split) == view_of(one_by_one)


@settings(max_examples=100, deadline=None)
@given(history=HISTORIES)
def test_folding_an_event_again_is_identity(history: list[ParsedEvent]) -> None:
    """fold(fold(s, e), e) == fold(s, e) for every event of a history (state equality)."""
    state = fold_many(new_state(CUSTOMER), history, NOW, RULES)
    for parsed in history:
        assert fold(state, parsed, NOW, RULES) == state


def load(stored: Mapping[str, CustomerState], batch: Sequence[ParsedEvent]) -> StoredStates:
    """What the shell's lock_states reads: every state the batch may touch (absent as None)."""
    states: dict[str, CustomerState | None] = {}
    while wanted := states_needed(states, batch):
        states.update({customer_id: stored.get(customer_id) for customer_id in wanted})
    return states


def fold_stream(batches: Iterable[Sequence[ParsedEvent]]) -> dict[str, CustomerState]:
    """The stored states after folding batch after batch as the consumer does, at NOW.

    The identity store's erase is modelled as erasing the customers pointing at the erased one.
    """
    stored: dict[str, CustomerState] = {}
    for batch in batches:
        folded = fold_batch(load(stored, batch), batch, NOW, RULES)
        written = {**stored, **folded.states}
        erased_with = {
            erasure.customer_id: [
                cid for cid, state in written.items() if state.merged_into == erasure.customer_id
            ]
            for erasure in folded.erasures
        }
        stored.update(tombstone_erased(folded, erased_with).states)
    return stored


def split(stream: list[ParsedEvent], cuts: list[int]) -> list[list[ParsedEvent]]:
    """The stream cut into consecutive batches at the given positions."""
    bounds = [0, *sorted(min(cut, len(stream)) for cut in cuts), len(stream)]
    return [stream[start:end] for start, end in itertools.pairwise(bounds)]


def dumped(states: Mapping[str, CustomerState]) -> dict[str, Any]:
    """States as plain data (a readable diff when a property fails)."""
    return {cid: state.model_dump(mode="json") for cid, state in sorted(states.items())}


CUTS = st.lists(st.integers(min_value=0, max_value=60), max_size=5)


@settings(max_examples=150, deadline=None)
@given(history=st.lists(events(CUSTOMERS), min_size=1, max_size=40), data=st.data())
def test_fold_batch_is_order_independent_per_customer(
    history: list[ParsedEvent], data: Any
) -> None:
    """Any interleaving and any order of each customer's events folds to the same views."""
    shuffled = data.draw(st.permutations(history))
    in_order = fold_stream([history])
    other_order = fold_stream([shuffled])
    assert in_order.keys() == other_order.keys()
    for customer_id, state in in_order.items():
        assert view_of(state) == view_of(other_order[customer_id])


@settings(max_examples=200, deadline=None)
@given(stream=STREAMS, cuts=CUTS)
def test_splitting_a_stream_into_batches_anywhere_gives_the_same_states(
    stream: list[ParsedEvent], cuts: list[int]
) -> None:
    """Merges, merge pointers and erasures included: batch boundaries never change a state."""
    assert dumped(fold_stream(split(stream, cuts))) == dumped(fold_stream([stream]))


@settings(max_examples=200, deadline=None)
@given(stream=STREAMS, cuts=CUTS, data=st.data())
def test_redeliveries_in_and_across_batches_fold_once(
    stream: list[ParsedEvent], cuts: list[int], data: Any
) -> None:
    """Events delivered again later, in the same batch or a later one, change no state."""
    positions = st.tuples(
        st.integers(min_value=0, max_value=len(stream) - 1), st.integers(min_value=0, max_value=5)
    )
    repeats = data.draw(st.lists(positions, max_size=10))
    placed = [(float(index), parsed) for index, parsed in enumerate(stream)]
    placed += [(index + 0.5 + later, stream[index]) for index, later in repeats]
    redelivered = [parsed for _, parsed in sorted(placed, key=lambda item: item[0])]
    once = fold_stream([stream])
    assert dumped(fold_stream(split(redelivered, cuts))) == dumped(once)
    assert dumped(fold_stream([redelivered])) == dumped(once)


@settings(max_examples=100, deadline=None)
@given(stream=STREAMS, cut=st.integers(min_value=0, max_value=30))
def test_fold_batch_leaves_the_given_states_as_they_were(
    stream: list[ParsedEvent], cut: int
) -> None:
    """fold_batch is pure: the states it is given are not changed, whatever it folds."""
    stored = fold_stream([stream[:cut]])
    given = load(stored, stream[cut:])
    snapshot = {cid: None if state is None else state.model_dump() for cid, state in given.items()}
    fold_batch(given, stream[cut:], NOW, RULES)
    assert {
        cid: None if state is None else state.model_dump() for cid, state in given.items()
    } == snapshot


@settings(max_examples=150, deadline=None)
@given(stream=STREAMS, cut=st.integers(min_value=0, max_value=30))
def test_a_merge_pointer_is_never_written_over_except_by_an_erasure(
    stream: list[ParsedEvent], cut: int
) -> None:
    """Whatever a later batch folds (the loser's late events included), a stored pointer stays
    as it is; only erasing the survivor may replace it, and then with a tombstone."""
    stored = fold_stream([stream[:cut]])
    pointers = {cid: state for cid, state in stored.items() if state.merged_into is not None}
    folded = fold_batch(load(stored, stream[cut:]), stream[cut:], NOW, RULES)
    for customer_id in pointers.keys() & folded.states.keys():
        assert folded.states[customer_id].is_erased, customer_id
    after = fold_stream([stream[:cut], stream[cut:]])
    for customer_id, pointer in pointers.items():
        assert after[customer_id] == pointer or after[customer_id].is_erased, customer_id


MANY_IDS = [f"k{i}" for i in range(12)]
SMALL_CAPS = FoldRules(
    timeline_size=4,
    max_offers=3,
    max_complaints=3,
    max_closed_complaints=4,
    closed_complaint_texts_kept=2,
    max_commitments=3,
    max_closed_commitments=2,
    max_notes=2,
)


@st.composite
def care_events(draw: st.DrawFn) -> ParsedEvent:
    """A care or offer event about one of many complaints, commitments and decisions."""
    at, key = draw(MOMENTS), draw(st.sampled_from(MANY_IDS))
    kind = draw(st.integers(min_value=0, max_value=5))
    if kind == 0:
        return complaint(key, at=at)
    if kind == 1:
        return complaint_resolved(key, at=at)
    if kind == 2:
        return complaint_step(
            "complaint_follow_up", key, satisfaction=draw(st.integers(1, 5)), at=at
        )
    if kind == 3:
        due_at = NOW + timedelta(hours=draw(st.integers(min_value=-400, max_value=400)))
        return call(note=draw(st.booleans()), commitment_id=key, due_at=due_at, at=at)
    if kind == 4:
        return commitment_fulfilled(key, at=at)
    return offer_presented(key, ["o1", "o2"], at=at)


@settings(max_examples=100, deadline=None)
@given(history=st.lists(st.one_of(care_events(), events()), min_size=1, max_size=80))
def test_the_state_is_bounded_by_the_caps_whatever_the_history(
    history: list[ParsedEvent],
) -> None:
    """Whatever the history, every kept set stays within its FoldRules cap, so the stored
    state has a ceiling set by the caps (here a few KiB), never by the number of events."""
    rules = SMALL_CAPS
    state = fold_many(new_state(CUSTOMER), history, NOW, rules)
    opened = [c for c in state.complaints.values() if c.resolved_at is None]
    whole_closed = len(state.complaints) - len(opened)
    live = [c for c in state.commitments.values() if is_commitment_live(c, NOW, rules)]
    assert len(opened) <= rules.max_complaints
    assert whole_closed <= rules.closed_complaint_texts_kept
    assert whole_closed + len(state.complaint_clocks) <= rules.max_closed_complaints
    assert len(live) <= rules.max_commitments
    assert len(state.commitments) - len(live) <= rules.max_closed_commitments
    assert len(state.notes) <= rules.max_notes
    assert len(state.timeline) <= rules.timeline_size
    assert len(state.offers) <= rules.max_offers
    body, _ = dump_state_parts(state)
    assert len(body) <= 12 * 1024


@settings(max_examples=50, deadline=None)
@given(history=st.lists(care_events(), min_size=1, max_size=60), data=st.data())
def test_resolved_complaints_within_the_caps_fold_the_same_in_any_order(
    history: list[ParsedEvent], data: Any
) -> None:
    """While a history's resolved complaints fit the whole-record cap, any arrival order gives
    the same closed complaints and figures clocks."""
    rules = FoldRules(max_closed_complaints=20, closed_complaint_texts_kept=20)
    shuffled = data.draw(st.permutations(history))
    one = fold_many(new_state(CUSTOMER), history, NOW, rules)
    other = fold_many(new_state(CUSTOMER), shuffled, NOW, rules)
    assert (
        evaluate(one, NOW, rules).closed_complaints == evaluate(other, NOW, rules).closed_complaints
    )
    assert get_closed_complaint_clocks(one) == get_closed_complaint_clocks(other)

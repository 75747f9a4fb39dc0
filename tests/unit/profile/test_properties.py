"""Property tests of the fold: arrival order, duplicates and batching never change the view."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.profile.factories import (
    NOW,
    complaint,
    complaint_resolved,
    event,
    membership,
    offer_presented,
    offer_response,
    page_view,
    purchase,
    refund,
)
from touchpoint_profile.fold.evaluate import evaluate
from touchpoint_profile.fold.events import ParsedEvent
from touchpoint_profile.fold.fold import fold, fold_many
from touchpoint_profile.fold.rules import FoldRules
from touchpoint_profile.fold.state import CustomerState, new_state

RULES = FoldRules(timeline_size=6)
CATEGORIES = st.sampled_from(["tents", "bags", "shoes"])
MOMENTS = st.integers(min_value=0, max_value=150 * 24 * 60).map(
    lambda minutes: NOW - timedelta(minutes=minutes)
)
STORES = st.sampled_from([None, "12", "7"])
IDS = st.sampled_from(["a", "b", "c"])


@st.composite
def events(draw: st.DrawFn) -> ParsedEvent:
    """One event of a random type at a random moment in the last 150 days."""
    at = draw(MOMENTS)
    common: dict[str, Any] = {"at": at, "store_id": draw(STORES)}
    kind = draw(st.integers(min_value=0, max_value=8))
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
    return membership(draw(st.sampled_from(["joined", "left", "tier_changed"])), "gold", **common)


HISTORIES = st.lists(events(), min_size=1, max_size=25)


def view_of(state: CustomerState) -> dict[str, Any]:
    """The view at NOW as plain data."""
    return evaluate(state, NOW, RULES).model_dump(mode="json")


@settings(max_examples=150, deadline=None)
@given(history=HISTORIES, data=st.data())
def test_any_arrival_order_gives_the_same_view(history: list[ParsedEvent], data: Any) -> None:
    """Late and out-of-order events: any permutation folds to the same view."""
    shuffled = data.draw(st.permutations(history))
    in_order = fold_many(new_state("c-1"), history, NOW, RULES)
    other_order = fold_many(new_state("c-1"), shuffled, NOW, RULES)
    assert view_of(in_order) == view_of(other_order)


@settings(max_examples=150, deadline=None)
@given(history=HISTORIES, data=st.data())
def test_duplicates_never_count_twice(history: list[ParsedEvent], data: Any) -> None:
    """Redelivering any subset of events, anywhere in the stream, gives the same view as once."""
    repeats = data.draw(st.lists(st.sampled_from(history), max_size=10))
    with_duplicates = data.draw(st.permutations(history + repeats))
    once = fold_many(new_state("c-1"), history, NOW, RULES)
    twice = fold_many(new_state("c-1"), with_duplicates, NOW, RULES)
    assert view_of(once) == view_of(twice)


@settings(max_examples=100, deadline=None)
@given(history=HISTORIES, cut=st.integers(min_value=0, max_value=25))
def test_batches_and_single_folds_agree(history: list[ParsedEvent], cut: int) -> None:
    """Folding in two batches, or one event at a time, equals one batch."""
    whole = fold_many(new_state("c-1"), history, NOW, RULES)
    first_part = fold_many(new_state("c-1"), history[:cut], NOW, RULES)
    split = fold_many(first_part, history[cut:], NOW, RULES)
    one_by_one = new_state("c-1")
    for parsed in history:
        one_by_one = fold(one_by_one, parsed, NOW, RULES)
    assert view_of(whole) == view_of(split) == view_of(one_by_one)


@settings(max_examples=100, deadline=None)
@given(history=HISTORIES)
def test_folding_an_event_again_is_identity(history: list[ParsedEvent]) -> None:
    """fold(fold(s, e), e) == fold(s, e) for every event of a history (state equality)."""
    state = fold_many(new_state("c-1"), history, NOW, RULES)
    for parsed in history:
        assert fold(state, parsed, NOW, RULES) == state

"""fold_batch, the fold's one entry point: what it reads, merge following, its effects (no I/O)."""

from __future__ import annotations

import pytest

from tests.unit.profile.factories import NOW, complaint, event, purchase
from touchpoint_profile.fold.apply import own_copy
from touchpoint_profile.fold.evaluate import get_rfm
from touchpoint_profile.fold.fold import (
    Erasure,
    StateNotLoaded,
    fold_batch,
    fold_many,
    states_needed,
    tombstone_erased,
)
from touchpoint_profile.fold.state import CustomerState, new_state


def _pointer(customer_id: str, into: str) -> CustomerState:
    return CustomerState(customer_id=customer_id, merged_into=into)


def test_states_needed_lists_event_customers_merge_sources_and_pointer_targets() -> None:
    """The ids to load: events' customers and identify sources, then their pointers' targets."""
    identify = event("identify", {"linked": [], "merged_customer_ids": ["s"]}, customer_id="a")
    events = [identify, purchase(customer_id="b")]
    assert states_needed({}, events) == {"a", "b", "s"}
    loaded = {"a": None, "b": _pointer("b", "z"), "s": _pointer("s", "y")}
    assert states_needed(loaded, events) == {"z"}
    assert states_needed({**loaded, "z": new_state("z")}, events) == set()


def test_a_state_not_given_is_refused_not_taken_for_new() -> None:
    """Folding over a pointer whose target was not loaded raises instead of overwriting a row."""
    with pytest.raises(StateNotLoaded):
        fold_batch({"b": _pointer("b", "z")}, [purchase(customer_id="b")], NOW)


def test_events_of_a_merged_customer_land_on_the_survivor() -> None:
    """merged_into is followed over the given states: the survivor changes, the pointer stays."""
    given = {"b": _pointer("b", "a"), "a": new_state("a")}
    batch = fold_batch(given, [purchase(days_ago=1, customer_id="b")], NOW)
    assert set(batch.states) == {"a"}
    assert get_rfm(batch.states["a"], NOW).frequency == 1
    assert given["a"] == new_state("a")


def test_erase_asks_for_the_identity_erasure_and_tombstones_what_it_erased() -> None:
    """An erase is an effect for the shell; tombstone_erased covers the ids erased with it."""
    erase = event("erase", {}, days_ago=1, customer_id="a")
    batch = fold_batch({"a": None}, [purchase(days_ago=2, customer_id="a"), erase], NOW)
    assert batch.erasures == [Erasure("a", erase.event.occurred_at)]
    assert batch.states["a"].is_erased
    settled = tombstone_erased(batch, {"a": ["a", "m"]})
    assert settled.outcome.erased == ["a", "m"]
    assert settled.states["m"].is_erased
    assert settled.states["m"].erased_at == erase.event.occurred_at
    assert batch.outcome.erased == ["a"]


def test_own_copy_shares_no_container_with_the_original() -> None:
    """Every list and dict of a state (a field added later too) is the copy's own."""
    state = fold_many(new_state("c-1"), [purchase(days_ago=1), complaint("K")], NOW)
    copied = own_copy(state)
    assert copied == state
    for name in CustomerState.model_fields:
        value = getattr(state, name)
        if isinstance(value, list | dict):
            assert getattr(copied, name) is not value, name


def test_fold_many_refuses_another_customers_events() -> None:
    """The one-customer wrapper does not silently fold c-1's purchase into someone else."""
    with pytest.raises(ValueError, match="c-1"):
        fold_many(new_state("other"), [purchase(days_ago=1)], NOW)

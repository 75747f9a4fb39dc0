"""Unit tests of the pure fold: windows, late events, dedup, caps, erase, merge (no I/O)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from tests.unit.profile.factories import (
    CUSTOMER,
    NOW,
    complaint,
    complaint_resolved,
    event,
    membership,
    offer_presented,
    offer_response,
    page_view,
    purchase,
    purchase_payload,
    refund,
    wire_event,
)
from touchpoint_profile.fold.apply import is_duplicate
from touchpoint_profile.fold.evaluate import evaluate, get_rfm
from touchpoint_profile.fold.events import ContractViolation, parse_event
from touchpoint_profile.fold.fold import fold, fold_many
from touchpoint_profile.fold.merge import merge_states
from touchpoint_profile.fold.rules import FoldRules
from touchpoint_profile.fold.state import CustomerState, new_state


def test_purchases_and_returns_feed_frequency_and_net_monetary() -> None:
    """Two purchases and a return: frequency 2, monetary = spend minus the return."""
    state = fold_many(
        new_state(CUSTOMER),
        [purchase("100.00", days_ago=10), purchase("50.50", days_ago=3), refund("20.00")],
        NOW,
    )
    rfm = get_rfm(state, NOW)
    assert (rfm.frequency, rfm.monetary, rfm.recency_days) == (2, Decimal("130.50"), 3)


def test_fold_does_not_change_its_input() -> None:
    """fold is pure: the state passed in is left as it was."""
    before = new_state(CUSTOMER)
    snapshot = before.model_dump()
    after = fold(before, purchase(days_ago=1), NOW)
    assert before.model_dump() == snapshot
    assert after.last_purchase_at is not None


def test_event_older_than_window_updates_only_last_purchase() -> None:
    """A purchase 200 days old moves last_purchase_at when newer, never frequency/monetary."""
    state = fold(new_state(CUSTOMER), purchase("80.00", days_ago=200), NOW)
    rfm = get_rfm(state, NOW)
    assert (rfm.frequency, rfm.monetary, rfm.recency_days) == (0, Decimal(0), 200)
    assert state.days == {}
    assert state.applied == {}


def test_late_event_does_not_move_a_newer_last_purchase_back() -> None:
    """A late purchase older than the stored last purchase leaves recency as it was."""
    state = fold_many(new_state(CUSTOMER), [purchase(days_ago=5), purchase(days_ago=40)], NOW)
    assert get_rfm(state, NOW).recency_days == 5
    assert get_rfm(state, NOW).frequency == 2


def test_window_slides_with_query_time() -> None:
    """A purchase 80 days before NOW counts at NOW and no longer 20 days later."""
    state = fold(new_state(CUSTOMER), purchase("300.00", days_ago=80), NOW)
    assert get_rfm(state, NOW).frequency == 1
    later = get_rfm(state, NOW + timedelta(days=20))
    assert (later.frequency, later.monetary, later.recency_days) == (0, Decimal(0), 100)


def test_window_is_configurable() -> None:
    """With a 30-day window, a purchase 45 days ago is outside it."""
    rules = FoldRules(window_days=30)
    state = fold(new_state(CUSTOMER), purchase(days_ago=45), NOW, rules)
    assert get_rfm(state, NOW, rules).frequency == 0
    assert get_rfm(state, NOW, rules).window_days == 30


def test_same_event_twice_counts_once() -> None:
    """Folding the same event_id twice changes nothing the second time."""
    once = fold(new_state(CUSTOMER), purchase(days_ago=2), NOW)
    repeated = purchase(days_ago=2)
    first = fold(new_state(CUSTOMER), repeated, NOW)
    assert is_duplicate(first, repeated)
    assert fold(first, repeated, NOW) == first
    assert get_rfm(first, NOW).frequency == get_rfm(once, NOW).frequency == 1


def test_dedup_set_is_pruned_with_the_window() -> None:
    """event_ids of days that left the window are forgotten: the dedup set stays bounded."""
    state = fold(new_state(CUSTOMER), purchase(days_ago=89), NOW)
    assert len(state.applied) == 1
    moved_on = fold(state, page_view("bags", days_ago=0), NOW + timedelta(days=5))
    assert len(moved_on.applied) == 1
    assert len(moved_on.days) == 1


def test_state_stays_bounded_over_a_long_history() -> None:
    """Two years of daily purchases leave at most window_days buckets and N timeline lines."""
    rules = FoldRules(timeline_size=20)
    state = new_state(CUSTOMER)
    for day in range(730, -1, -1):
        now = NOW - timedelta(days=day)
        state = fold(state, purchase("10.00", at=now), now, rules)
    assert len(state.days) <= rules.window_days
    assert len(state.timeline) == 20
    assert len(state.applied) <= rules.window_days
    assert len(state.model_dump_json()) < 60_000
    assert get_rfm(state, NOW, rules).frequency == 90


def test_timeline_is_capped_newest_first_with_readable_lines() -> None:
    """The timeline keeps the newest N, newest first, with a human line."""
    rules = FoldRules(timeline_size=3)
    basket = purchase_payload("128.50", quantity=3)
    events = [page_view("bags", days_ago=d) for d in (5, 4, 3)]
    events.append(event("purchase", basket, days_ago=1, store_id="12"))
    state = fold_many(new_state(CUSTOMER), events, NOW, rules)
    lines = [entry.line for entry in state.timeline]
    assert lines == [
        "POS purchase 3 items 128.50 CNY, store 12",
        "Web page view bags",
        "Web page view bags",
    ]
    assert [entry.occurred_at for entry in state.timeline] == sorted(
        (entry.occurred_at for entry in state.timeline), reverse=True
    )


def test_complaint_open_until_resolved_in_any_order() -> None:
    """A resolution arriving before its complaint still closes it; others stay open."""
    events = [
        complaint_resolved("K1", days_ago=1),
        complaint("K1", days_ago=2),
        complaint("K2", days_ago=10),
    ]
    view = evaluate(fold_many(new_state(CUSTOMER), events, NOW), NOW)
    assert [(c.complaint_id, c.age_days, c.severity) for c in view.open_complaints] == [
        ("K2", 10, "high")
    ]


def test_offers_show_their_latest_status() -> None:
    """Presented offers show `presented` until answered; the answer and its time win."""
    events = [
        offer_presented("d1", ["o1", "o2"], days_ago=2),
        offer_response("d1", "o2", "rejected", days_ago=1),
    ]
    view = evaluate(fold_many(new_state(CUSTOMER), events, NOW), NOW)
    statuses = {(o.offer_id, o.status) for o in view.offers}
    assert statuses == {("o1", "presented"), ("o2", "rejected")}
    assert view.offers[0].offer_id == "o2"


def test_membership_is_last_writer_wins_by_event_time() -> None:
    """A late `joined` older than a `left` does not make the customer a member again."""
    events = [membership("left", days_ago=1), membership("joined", "gold", days_ago=30)]
    view = evaluate(fold_many(new_state(CUSTOMER), events, NOW), NOW)
    assert (view.member, view.member_tier) == (False, None)
    joined = evaluate(fold(new_state(CUSTOMER), membership("joined", "gold"), NOW), NOW)
    assert (joined.member, joined.member_tier) == (True, "gold")


def test_erase_leaves_a_tombstone_that_ignores_later_events() -> None:
    """After erase nothing of the customer remains and later events are not folded."""
    state = fold_many(new_state(CUSTOMER), [purchase(days_ago=3), complaint("K", days_ago=2)], NOW)
    erased = fold(state, event("erase", {"reason": "asked"}, days_ago=1), NOW)
    assert erased.is_erased
    assert erased.timeline == []
    assert erased.days == {}
    assert erased.complaints == {}
    assert fold(erased, purchase(days_ago=0), NOW) == erased


def test_merge_adds_windowed_figures_once() -> None:
    """Merging a second customer's state sums its purchases; merging again is a no-op."""
    target = fold(new_state("a"), purchase("100.00", days_ago=3, customer_id="a"), NOW)
    source = fold(new_state("b"), purchase("40.00", days_ago=20, customer_id="b"), NOW)
    merged = merge_states(target, source, NOW)
    rfm = get_rfm(merged, NOW)
    assert (rfm.frequency, rfm.monetary, rfm.recency_days) == (2, Decimal("140.00"), 3)
    assert merge_states(merged, source, NOW) == merged
    assert len(merged.timeline) == 2


def test_merge_keeps_what_either_customer_knows_of_an_offer() -> None:
    """An offer both customers were shown keeps the merged customer's answer (field by field)."""
    shown = offer_presented("d1", ["o1"], days_ago=3, customer_id="a")
    target = fold(new_state("a"), shown, NOW)
    answered = [
        offer_presented("d1", ["o1"], days_ago=2, customer_id="b"),
        offer_response("d1", "o1", "accepted", days_ago=1, customer_id="b"),
    ]
    source = fold_many(new_state("b"), answered, NOW)
    (offer,) = merge_states(target, source, NOW).offers.values()
    assert (offer.presented_by, offer.outcome) == (shown.event_id, "accepted")


def test_contract_violation_is_reported_with_the_field() -> None:
    """A purchase without items breaks the contract and says which field."""
    bad = wire_event("purchase", {"order_id": "o", "amount": "1.00", "currency": "CNY"})
    with pytest.raises(ContractViolation, match="items"):
        parse_event(bad)


def test_complaint_with_plain_text_on_the_wire_is_refused() -> None:
    """Free text must travel sealed: a plain `text` key breaks the contract."""
    payload = {"complaint_id": "K", "category": "c", "severity": "low", "text": "hi"}
    with pytest.raises(ContractViolation, match="text"):
        parse_event(wire_event("complaint", payload))


def test_state_round_trips_through_json() -> None:
    """What the projection stores (JSON) reads back into an equal state."""
    state = fold_many(
        new_state(CUSTOMER),
        [purchase(days_ago=3, store_id="12"), complaint("K"), page_view("bags")],
        NOW,
    )
    assert CustomerState.model_validate_json(state.model_dump_json()) == state

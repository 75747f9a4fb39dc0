"""Tier service plans and the care columns the fold writes beside the state (pure, no I/O)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from tests.unit.profile.factories import (
    NOW,
    call,
    commitment_fulfilled,
    complaint,
    complaint_step,
    event,
    purchase,
)
from touchpoint_profile.care.plans import CarePlan, CarePlans
from touchpoint_profile.fold.care import (
    CARE_CONTACTS_KEPT,
    get_care_contact_days,
    get_care_kind,
    get_closed_complaint_clocks,
    get_open_commitment_dues,
)
from touchpoint_profile.fold.events import ParsedEvent
from touchpoint_profile.fold.fold import fold_many
from touchpoint_profile.fold.merge import merge_states
from touchpoint_profile.fold.rules import FoldRules
from touchpoint_profile.fold.state import new_state
from touchpoint_profile.fold.unmerge import split_states
from touchpoint_profile.fold.value_row import get_value_row
from touchpoint_profile.projection.postgres import _carried
from touchpoint_profile.settings import ProfileSettings

RULES = FoldRules()
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def visit(**kwargs: Any) -> ParsedEvent:
    """A store visit."""
    return event("store_visit", {"zone": "entrance"}, channel="store", **kwargs)


def test_default_plans_are_the_brief_figures() -> None:
    """Brief, section 5: "A: visit 3x a month, call 2-3x; B: visit 2x, call 1-2x; C: visit 1x,
    call 1x": the defaults take each range's low end."""
    plans = CarePlans()
    assert (plans.A.visits, plans.A.calls) == (3, 2)
    assert (plans.B.visits, plans.B.calls) == (2, 1)
    assert (plans.C.visits, plans.C.calls) == (1, 1)


def test_plans_are_configured_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """TOUCHPOINT_CARE_PLANS__A__CALLS=3 takes the top of the brief's 2-3 calls for A; more
    contacts than the fold keeps, or a period longer than the window, is refused."""
    monkeypatch.setenv("TOUCHPOINT_CARE_PLANS__A__CALLS", "3")
    assert CarePlan(visits=3, calls=3) == ProfileSettings().care_plans.A
    with pytest.raises(ValidationError):
        CarePlan(visits=CARE_CONTACTS_KEPT + 1, calls=0)
    monkeypatch.setenv("TOUCHPOINT_CARE_PLAN_DAYS", "91")
    with pytest.raises(ValidationError):
        ProfileSettings()


def test_calls_and_store_visits_count_as_care_contacts_dropped_calls_do_not() -> None:
    """The plans count calls and visits a month: a dropped call is no contact, a purchase or
    a complaint is not a care contact."""
    assert get_care_kind(call()) == "call"
    assert get_care_kind(visit()) == "visit"
    dropped = event("call", {"duration_seconds": 3, "outcome": "dropped"}, channel="call_centre")
    assert get_care_kind(dropped) is None
    assert get_care_kind(purchase()) is None
    assert get_care_kind(complaint("K")) is None


def test_contact_days_are_newest_first_one_per_contact_and_capped() -> None:
    """Two calls on one day appear twice; the list keeps the newest CARE_CONTACTS_KEPT, and
    a redelivered call counts once."""
    repeated = call(days_ago=1)
    events = [repeated, repeated, call(days_ago=1), call(days_ago=4)]
    events += [call(days_ago=10 + day) for day in range(12)]
    state = fold_many(new_state("c-1"), events, NOW, RULES)
    days = get_care_contact_days(state.days, "call")
    assert len(days) == CARE_CONTACTS_KEPT
    assert days[:3] == [(NOW - DAY).date(), (NOW - DAY).date(), (NOW - 4 * DAY).date()]
    assert days == sorted(days, reverse=True)
    assert get_care_contact_days(state.days, "visit") == []


def test_the_value_row_carries_contact_days_and_preferred_store() -> None:
    """customer_value gets the care contact days and the store with the most events."""
    events = [
        visit(days_ago=2, store_id="s1"),
        visit(days_ago=3, store_id="s2"),
        call(days_ago=1, store_id="s2"),
    ]
    row = get_value_row(fold_many(new_state("c-1"), events, NOW, RULES), NOW, RULES)
    assert row.preferred_store == "s2"
    assert row.care_visits == [(NOW - 2 * DAY).date(), (NOW - 3 * DAY).date()]
    assert row.care_calls == [(NOW - DAY).date()]
    assert _carried(row.care_visits, "date[]") == (
        f"{{{(NOW - 2 * DAY).date()},{(NOW - 3 * DAY).date()}}}"
    )
    assert _carried([], "date[]") is None


def test_merge_adds_care_contacts_and_unmerge_takes_them_back() -> None:
    """A merged customer's calls and visits count for the survivor's plan, and leave it
    again on unmerge."""
    loser = fold_many(new_state("c-2"), [visit(customer_id="c-2", days_ago=1)], NOW, RULES)
    survivor = fold_many(new_state("c-1"), [call(days_ago=1)], NOW, RULES)
    merged = merge_states(survivor, loser, NOW, RULES)
    assert len(get_care_contact_days(merged.days, "visit")) == 1
    split = split_states(merged, loser)
    assert get_care_contact_days(split.days, "visit") == []
    assert len(get_care_contact_days(split.days, "call")) == 1


def test_open_commitment_dues_and_resolved_complaint_clocks() -> None:
    """Due times of promises not kept (sorted; a kept one leaves); resolved complaints with
    severity, hours to resolve (None when the opening was never seen) and satisfaction."""
    events = [
        call(commitment_id="P2", due_at=NOW + 2 * HOUR),
        call(commitment_id="P1", due_at=NOW + HOUR),
        call(commitment_id="P3", due_at=NOW + 3 * HOUR),
        commitment_fulfilled("P3"),
        complaint("K1", at=NOW - 5 * HOUR),
        complaint_step("complaint_resolved", "K1", at=NOW - 2 * HOUR),
        complaint_step("complaint_follow_up", "K1", at=NOW, satisfaction=2),
        complaint_step("complaint_resolved", "K2", at=NOW - HOUR),
        complaint("K3", at=NOW - HOUR),
    ]
    state = fold_many(new_state("c-1"), events, NOW, RULES)
    assert get_open_commitment_dues(state) == [NOW + HOUR, NOW + 2 * HOUR]
    first, second = get_closed_complaint_clocks(state)
    assert (first.severity, first.hours_to_resolve, first.satisfaction) == ("high", 3.0, 2)
    assert (second.severity, second.hours_to_resolve, second.satisfaction) == (None, None, None)
    pointer = state.model_copy(update={"merged_into": "c-9"})
    assert get_open_commitment_dues(pointer) == []
    assert get_closed_complaint_clocks(pointer) == []

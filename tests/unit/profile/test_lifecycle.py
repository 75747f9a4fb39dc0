"""The lifecycle as the texts define it (brief section 5): each trigger, and properties that
only buyers are ever at risk or lost."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.profile.factories import (
    CUSTOMER,
    NOW,
    complaint,
    consent,
    event,
    membership,
    offer_presented,
    offer_response,
    page_view,
    purchase,
    refund,
)
from touchpoint_profile.fold.events import ParsedEvent
from touchpoint_profile.fold.fold import fold_many
from touchpoint_profile.fold.lifecycle import get_lifecycle
from touchpoint_profile.fold.rules import FoldRules
from touchpoint_profile.fold.state import new_state
from touchpoint_profile.fold.view import BUYER_STAGES

RULES = FoldRules()


def stage(events: list[ParsedEvent], *, rules: FoldRules = RULES, days_later: float = 0) -> str:
    """The lifecycle after these events, evaluated `days_later` days after NOW."""
    state = fold_many(new_state(CUSTOMER), events, NOW, rules)
    return get_lifecycle(state, NOW + timedelta(days=days_later), rules)


def test_a_contact_who_never_bought_is_a_prospect() -> None:
    """ "Someone who has never bought is a prospect or a potential customer, never 'lost'":
    a web visitor first seen 130 days ago and back yesterday is a prospect, not lapsed."""
    events = [page_view("tents", days_ago=130), page_view("tents", days_ago=1)]
    assert stage(events) == "prospect"


def test_a_first_purchase_makes_a_new_buyer_for_30_days() -> None:
    """ "New customers are to be nurtured": new_buyer while the first purchase is <= 30 days
    old (lifecycle_new_days)."""
    assert stage([purchase(days_ago=30)]) == "new_buyer"
    assert stage([purchase(days_ago=31), purchase(days_ago=1)]) == "active"


def test_a_buyer_slips_to_at_risk_after_60_days_and_is_lost_after_120() -> None:
    """R table: 61-120 days since the last purchase scores 2 (at_risk, warn early), > 120
    scores 1 (lost: a former buyer who stopped buying)."""
    assert stage([purchase(days_ago=60)]) == "active"
    assert stage([purchase(days_ago=90), purchase(days_ago=60)]) == "active"
    assert stage([purchase(days_ago=61)]) == "at_risk"
    assert stage([purchase(days_ago=120)]) == "at_risk"
    assert stage([purchase(days_ago=121)]) == "lost"


def test_a_buyer_who_returns_after_slipping_is_won_back_for_30_days() -> None:
    """A purchase more than 60 days after the one before it: won_back (the texts' "try to win
    back"), for lifecycle_won_back_days = 30 days, then an ordinary stage again."""
    events = [purchase(days_ago=200), purchase(days_ago=5)]
    assert stage(events) == "won_back"
    assert stage(events, days_later=26) == "active"
    assert stage([purchase(days_ago=50), purchase(days_ago=5)]) == "active"


def test_a_long_standing_frequent_buyer_is_mature() -> None:
    """First purchase >= 365 days ago and >= 6 purchases: mature; fewer purchases: active."""
    steady = [purchase(days_ago=d) for d in (400, 340, 280, 220, 160, 100, 45)]
    assert stage(steady) == "mature"
    assert stage(steady, rules=FoldRules(lifecycle_mature_min_purchases=8)) == "active"


def test_every_trigger_is_configurable() -> None:
    """The bounds are FoldRules fields: at_risk after 10 days, lost after 20."""
    rules = FoldRules(lifecycle_at_risk_days=10, lifecycle_lost_days=20, lifecycle_new_days=0)
    assert stage([purchase(days_ago=11)], rules=rules) == "at_risk"
    assert stage([purchase(days_ago=21)], rules=rules) == "lost"
    assert stage([purchase(days_ago=5)], rules=rules) == "active"


MOMENTS = st.integers(min_value=0, max_value=3 * 365 * 24).map(
    lambda hours: NOW - timedelta(hours=hours)
)


@st.composite
def non_purchases(draw: st.DrawFn) -> ParsedEvent:
    """Any event but a purchase, at any moment of the last three years."""
    common: dict[str, Any] = {"at": draw(MOMENTS)}
    kind = draw(st.integers(min_value=0, max_value=7))
    if kind == 0:
        return page_view(draw(st.sampled_from(["tents", "bags"])), **common)
    if kind == 1:
        return event("store_visit", {"zone": "tents"}, channel="store", **common)
    if kind == 2:
        return complaint("c1", **common)
    if kind == 3:
        return membership("joined", "gold", **common)
    if kind == 4:
        return offer_presented("d", ["o1"], **common)
    if kind == 5:
        return offer_response("d", "o1", "accepted", **common)
    if kind == 6:
        return refund("10.00", **common)
    return consent("granted", **common)


@settings(max_examples=150, deadline=None)
@given(
    history=st.lists(non_purchases(), min_size=1, max_size=20),
    later=st.integers(min_value=0, max_value=2000),
)
def test_whoever_never_bought_is_a_prospect_however_old(
    history: list[ParsedEvent], later: int
) -> None:
    """Property: with no purchase, the stage is prospect at any moment, however long ago the
    first contact was (never at_risk or lost: churn is about buyers)."""
    assert stage(history, days_later=later) == "prospect"


@settings(max_examples=150, deadline=None)
@given(
    visits=st.lists(MOMENTS, min_size=1, max_size=10),
    later=st.integers(min_value=0, max_value=2000),
)
def test_a_web_visitor_who_never_bought_is_a_prospect(visits: list[Any], later: int) -> None:
    """Property: a web visitor first seen any time ago, back any time since, is a prospect."""
    assert stage([page_view("tents", at=at) for at in visits], days_later=later) == "prospect"


@settings(max_examples=150, deadline=None)
@given(
    history=st.lists(
        st.one_of(non_purchases(), MOMENTS.map(lambda at: purchase(at=at))),
        min_size=1,
        max_size=20,
    ),
    later=st.integers(min_value=0, max_value=2000),
)
def test_only_buyers_are_at_risk_or_lost(history: list[ParsedEvent], later: int) -> None:
    """Property: at_risk or lost (any buyer stage) only when a purchase was folded; a history
    with a purchase never reads as prospect."""
    bought = any(parsed.event.type.value == "purchase" for parsed in history)
    result = stage(history, days_later=later)
    if result in ("at_risk", "lost"):
        assert bought
    assert (result in BUYER_STAGES) == bought

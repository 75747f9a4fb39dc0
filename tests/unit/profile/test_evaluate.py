"""Unit tests of the evaluation at a query-time now: RFM scores, tier, lifecycle, decay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.unit.profile.factories import (
    CUSTOMER,
    NOW,
    event,
    offer_presented,
    offer_response,
    page_view,
    purchase,
)
from touchpoint_profile.fold.evaluate import (
    evaluate,
    get_channels,
    get_interests,
    get_lifecycle,
    get_rfm,
    score_by_cuts,
    score_recency,
)
from touchpoint_profile.fold.fold import fold, fold_many
from touchpoint_profile.fold.rules import FoldRules
from touchpoint_profile.fold.state import new_state

RULES = FoldRules()


@pytest.mark.parametrize(
    ("days", "score"),
    [(0, 5), (7, 5), (8, 4), (30, 4), (31, 3), (60, 3), (61, 2), (120, 2), (121, 1), (None, 1)],
)
def test_recency_score_follows_the_brief_table(days: int | None, score: int) -> None:
    """R: <=7 → 5, 8-30 → 4, 31-60 → 3, 61-120 → 2, >120 (or never) → 1."""
    assert score_recency(days, RULES) == score


@pytest.mark.parametrize(
    ("frequency", "score"), [(0, 1), (1, 1), (2, 2), (3, 3), (4, 3), (5, 4), (9, 4), (10, 5)]
)
def test_frequency_score_by_default_cut_points(frequency: int, score: int) -> None:
    """F: cut points 2, 3, 5, 10 purchases in the window."""
    assert score_by_cuts(frequency, RULES.frequency_cuts) == score


@pytest.mark.parametrize(
    ("monetary", "score"),
    [("-5", 1), ("199.99", 1), ("200", 2), ("499.99", 2), ("500", 3), ("1500", 4), ("5000", 5)],
)
def test_monetary_score_by_default_cut_points(monetary: str, score: int) -> None:
    """M: cut points 200, 500, 1500, 5000 of net spend in the window."""
    assert score_by_cuts(Decimal(monetary), RULES.monetary_cuts) == score


def test_cut_points_must_be_ascending() -> None:
    """A misconfigured cut-point list is refused when the rules are built."""
    with pytest.raises(ValueError, match="ascending"):
        FoldRules(frequency_cuts=[5, 3, 8, 10])


def test_recency_is_whole_days_at_query_time() -> None:
    """A purchase 2.9 days before now is 2 whole days ago; one day later it is 3."""
    state = fold(new_state(CUSTOMER), purchase(days_ago=2.9), NOW)
    assert get_rfm(state, NOW).recency_days == 2
    assert get_rfm(state, NOW + timedelta(days=1)).recency_days == 3


def _lifecycle(events_days: list[float], *, first_seen_days: float | None = None) -> str:
    events = [purchase(days_ago=d) for d in events_days]
    if first_seen_days is not None:
        events.append(page_view("bags", days_ago=first_seen_days))
    state = fold_many(new_state(CUSTOMER), events, NOW)
    return get_lifecycle(state, NOW)


def test_lifecycle_rules() -> None:
    """new_buyer (first purchase <= 30 days), active (bought recently), at_risk (last purchase
    > 60 days), lost (> 120), prospect (never bought, however long known)."""
    assert _lifecycle([2]) == "new_buyer"
    assert _lifecycle([10, 50]) == "active"
    assert _lifecycle([70], first_seen_days=80) == "at_risk"
    assert _lifecycle([130]) == "lost"
    assert _lifecycle([], first_seen_days=45) == "prospect"


def test_interest_halves_after_one_half_life() -> None:
    """A page view's weight decays to half after the configured half-life, evaluated at now."""
    rules = FoldRules(interest_half_life_days=10, weight_page_view=2.0)
    state = fold(new_state(CUSTOMER), page_view("bags", at=NOW), NOW, rules)
    assert get_interests(state, NOW, rules)[0].score == pytest.approx(2.0, abs=1e-4)
    later = get_interests(state, NOW + timedelta(days=10), rules)
    assert later[0].score == pytest.approx(1.0, abs=1e-4)


def test_interests_sorted_and_weighted_by_source() -> None:
    """A purchase (weight 3) outranks two page views (0.5 each) of another category."""
    events = [purchase(category="tents"), page_view("bags"), page_view("bags")]
    interests = get_interests(fold_many(new_state(CUSTOMER), events, NOW), NOW)
    assert [(i.category, i.score) for i in interests] == [("tents", 3.0), ("bags", 1.0)]


def test_offer_answers_never_become_interests() -> None:
    """Offer answers are learned by recommend, not folded into interests (issue 13): an
    accepted perk leaves the interests as the product events made them."""
    events = [
        page_view("tents", at=NOW),
        offer_presented("d1", ["o1"], days_ago=1),
        offer_response("d1", "o1", "accepted", at=NOW),
        offer_presented("d2", ["o2"], days_ago=1),
        offer_response("d2", "o2", "rejected", at=NOW),
    ]
    interests = get_interests(fold_many(new_state(CUSTOMER), events, NOW), NOW)
    assert [(i.category, i.score) for i in interests] == [("tents", 0.5)]


def test_channels_counts_and_preferences_in_window() -> None:
    """Counts per channel in the window; the most used channel and store are preferred."""
    events = [
        purchase(days_ago=1, store_id="12"),
        purchase(days_ago=2, store_id="12"),
        purchase(days_ago=3, store_id="7"),
        page_view("bags", days_ago=1),
        page_view("bags", days_ago=100),
    ]
    channels = get_channels(fold_many(new_state(CUSTOMER), events, NOW), NOW)
    assert channels.counts == {"pos": 3, "web": 1}
    assert (channels.preferred_channel, channels.preferred_store) == ("pos", "12")


def test_whole_view_of_a_store_customer() -> None:
    """evaluate() assembles every figure of the view at the given now."""
    events = [purchase("600.00", days_ago=d, store_id="12", category="tents") for d in (3, 20, 40)]
    events.append(event("membership", {"action": "joined", "tier": "gold"}, days_ago=60))
    view = evaluate(fold_many(new_state(CUSTOMER), events, NOW), NOW)
    assert (view.rfm.r, view.rfm.f, view.rfm.m) == (5, 3, 4)
    assert view.profit == Decimal("450.00")  # 1800 at the default 25% margin
    assert view.tier == "B"  # below the default A threshold of 1000 profit
    assert view.rfm_band == "top"  # 5 x 3 x 4 = 60 >= 48
    assert view.lifecycle == "active"
    assert view.member
    assert view.member_tier == "gold"
    assert view.as_of == NOW
    assert view.recent_purchases == {"tents": 3}
    assert len(view.timeline) == 4


def test_interests_at_the_edges_of_time_do_not_overflow() -> None:
    """An as_of long before the events saturates the decay instead of overflowing exp."""
    rules = FoldRules(interest_half_life_days=1.0)
    state = fold(new_state(CUSTOMER), page_view("bags", at=NOW), NOW, rules)
    for moment in (datetime(1970, 1, 1, tzinfo=UTC), datetime(8999, 12, 31, tzinfo=UTC)):
        assert all(interest.score >= 0 for interest in get_interests(state, moment, rules))

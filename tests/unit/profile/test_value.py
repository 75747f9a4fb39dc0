"""Customer value in the fold and the view (brief section 5, issue 13): profit by item cost or
category margin, money per currency, lifetime figures, ABC by profit, F/M and R x F x M bands
from a base-wide ranking, satisfaction surveys and loyalty points."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.unit.profile.factories import CUSTOMER, NOW, event, purchase, refund
from touchpoint_common.events.models import EventIn
from touchpoint_profile.fold.evaluate import evaluate, get_rfm, get_rfm_band, get_tier
from touchpoint_profile.fold.events import ParsedEvent
from touchpoint_profile.fold.fold import fold_many
from touchpoint_profile.fold.ranking import BaseRanking
from touchpoint_profile.fold.rules import FoldRules
from touchpoint_profile.fold.state import CustomerState, DayBucket, new_state
from touchpoint_profile.fold.value_row import get_value_row
from touchpoint_profile.fold.view import Rfm

RULES = FoldRules(
    currency_rates={"USD": Decimal("7.10")},
    margin_rates={"tents": Decimal("0.40")},
    default_margin_rate=Decimal("0.25"),
)
RANKING = BaseRanking(
    version=7,
    computed_at=NOW - timedelta(hours=3),
    customers=1_000_000,
    reporting_currency="CNY",
    frequency_cuts=(1, 2, 3, 5),
    monetary_cuts=(Decimal(100), Decimal(300), Decimal(800), Decimal(2000)),
    rfm_top_min=60,
    rfm_bottom_max=6,
    abc_a_min_profit=Decimal(500),
    abc_c_max_profit=Decimal(0),
)


def line(category: str, price: str, quantity: int = 1, cost: str | None = None) -> dict[str, Any]:
    """An item line (with unit_cost when given)."""
    item: dict[str, Any] = {
        "sku": f"sku-{category}",
        "category": category,
        "quantity": quantity,
        "unit_price": price,
    }
    if cost is not None:
        item["unit_cost"] = cost
    return item


def bought(
    items: list[dict[str, Any]], *, amount: str | None = None, currency: str = "CNY", **kw: Any
) -> ParsedEvent:
    """A purchase of these lines; `amount` defaults to their full price (no discount)."""
    total = sum(Decimal(i["unit_price"]) * i["quantity"] for i in items)
    payload = {
        "order_id": "o-1",
        "amount": amount or str(total),
        "currency": currency,
        "items": items,
    }
    return event("purchase", payload, **kw)


def view_of(
    events: list[ParsedEvent], rules: FoldRules = RULES, ranking: BaseRanking | None = None
):
    """The view at NOW after these events."""
    return evaluate(fold_many(new_state(CUSTOMER), events, NOW, rules), NOW, rules, ranking)


def test_profit_uses_unit_cost_else_the_category_margin() -> None:
    """Profit = amount paid less cost: a 100 shoe costing 60 earns 40; tents at the configured
    40% margin earn 80 of 200; an unknown category the default 25% (50 of 200)."""
    view = view_of(
        [
            bought([line("shoes", "100.00", cost="60.00")], days_ago=3),
            bought([line("tents", "100.00", quantity=2)], days_ago=2),
            bought([line("mugs", "200.00")], days_ago=1),
        ]
    )
    assert view.profit == Decimal("170.00")
    assert view.rfm.monetary == Decimal("500.00")


def test_a_discount_lowers_profit_and_a_return_takes_it_back() -> None:
    """Paying 150 for a 200 tent line (cost 120 at 40% margin) earns 30; returning one tent of
    100 takes back 100 - 60 = 40; a return without items takes back the default 25%."""
    events = [bought([line("tents", "100.00", quantity=2)], amount="150.00", days_ago=5)]
    assert view_of(events).profit == Decimal("30.00")
    give_back = {
        "order_id": "o-1",
        "amount": "100.00",
        "currency": "CNY",
        "items": [line("tents", "100.00")],
    }
    with_return = [*events, event("return", give_back, days_ago=1)]
    assert view_of(with_return).profit == Decimal("-10.00")
    assert view_of([*events, refund("40.00", days_ago=1)]).profit == Decimal("20.00")


def test_currencies_convert_by_rate_and_unrated_ones_stay_apart() -> None:
    """USD converts at the configured 7.10; EUR has no rate: shown apart, never summed into
    monetary or profit (window and lifetime)."""
    view = view_of(
        [
            bought([line("shoes", "10.00")], currency="USD", days_ago=2),
            bought([line("shoes", "100.00")], days_ago=1),
            bought([line("shoes", "20.00")], currency="EUR", days_ago=1),
        ]
    )
    assert view.rfm.monetary == Decimal("171.00")  # 10 x 7.10 + 100
    assert view.profit == Decimal("42.75")  # 25% of 171
    assert [(m.currency, m.monetary, m.profit) for m in view.unconverted] == [
        ("EUR", Decimal("20.00"), Decimal("5.00"))
    ]
    assert view.lifetime.monetary == Decimal("171.00")
    assert view.lifetime.unconverted[0].currency == "EUR"
    assert view.rfm.frequency == 3


def test_lifetime_figures_outlive_the_window() -> None:
    """First purchase, purchases, spend and profit count the whole folded history, also the
    purchases the 90-day window dropped."""
    events = [purchase("100.00", days_ago=400), purchase("100.00", days_ago=200)]
    events.append(purchase("50.00", days_ago=10))
    view = view_of(events)
    assert view.rfm.frequency == 1
    assert view.lifetime.purchases == 3
    assert view.lifetime.monetary == Decimal("250.00")
    assert view.lifetime.profit == Decimal("62.50")
    assert view.lifetime.first_purchase_at == NOW - timedelta(days=400)


def test_a_bucket_stored_before_currencies_reads_in_the_reporting_currency() -> None:
    """An old state's net_spend (one currency per deployment) counts in the reporting one."""
    bucket = DayBucket.model_validate({"purchases": 1, "net_spend": "120.50"})
    assert bucket.spend == {"*": Decimal("120.50")}


def _rfm(r: int, f: int, m: int) -> Rfm:
    return Rfm(window_days=90, recency_days=1, frequency=1, monetary=Decimal(1), r=r, f=f, m=m)


@pytest.mark.parametrize(
    ("profit", "tier"),
    [("500", "A"), ("499.99", "B"), ("0.01", "B"), ("0", "C"), ("-20", "C")],
)
def test_abc_by_profit_from_the_ranking_thresholds(profit: str, tier: str) -> None:
    """ "A = 20% of customers bringing ~80% of profit ... C = 10% bringing no profit": the
    ranking's Pareto cuts: A at/above abc_a_min_profit (500), C at/below abc_c_max_profit (0)."""
    assert get_tier(Decimal(profit), "active", RULES, RANKING) == tier


def test_a_first_time_buyer_is_never_c_for_being_new() -> None:
    """ "New customers are to be nurtured, not dropped": a first purchase of 150 (37.50 profit)
    made the old R x F x M tier C; by profit it is B, with or without a ranking."""
    view = view_of([purchase("150.00", days_ago=2)])
    assert view.lifecycle == "new_buyer"
    assert view.tier == "B"
    assert view_of([purchase("150.00", days_ago=2)], ranking=RANKING).tier == "B"
    strict = RANKING.model_copy(update={"abc_c_max_profit": Decimal(100)})
    assert get_tier(Decimal("37.50"), "new_buyer", RULES, strict) == "B"
    assert get_tier(Decimal("37.50"), "active", RULES, strict) == "C"


def test_without_a_ranking_abc_uses_the_fold_rules_defaults() -> None:
    """Before the first ranking: A from 1000 profit in the window, C at no profit."""
    assert get_tier(Decimal(1000), "active", RULES) == "A"
    assert get_tier(Decimal(999), "active", RULES) == "B"
    assert get_tier(Decimal(0), "prospect", RULES) == "C"


def test_f_and_m_score_by_the_ranking_quintile_cuts() -> None:
    """ "F and M are usually scored by quintile of the customer base": 2 purchases of 200 score
    F 3 and M 3 on the ranking's cuts (1,2,3,5 / 100,300,800,2000); F 2 and M 2 on the fixed
    FoldRules cuts (2,3,5,10 / 200,500,1500,5000)."""
    state = fold_many(
        new_state(CUSTOMER), [purchase("200.00", days_ago=d) for d in (3, 9)], NOW, RULES
    )
    ranked = get_rfm(state, NOW, RULES, RANKING)
    assert (ranked.r, ranked.f, ranked.m) == (5, 3, 3)
    fixed = get_rfm(state, NOW, RULES)
    assert (fixed.f, fixed.m) == (2, 2)


@pytest.mark.parametrize(
    ("r", "f", "m", "band"),
    [(5, 4, 3, "top"), (3, 2, 1, "bottom"), (3, 3, 3, "middle"), (5, 3, 4, "top")],
)
def test_rfm_bands_top_20_middle_60_bottom_20(r: int, f: int, m: int, band: str) -> None:
    """ "Top 20% by R x F x M are the best customers; the bottom 20% are to be avoided; the
    middle 60% are worth investing in": bands by the ranking's cuts (>= 60 top, <= 6 bottom)."""
    assert get_rfm_band(_rfm(r, f, m), RULES, RANKING) == band


def test_the_view_names_the_ranking_it_was_graded_by() -> None:
    """ranking_version and ranking_computed_at say which base-wide ranking graded the view;
    both None with the FoldRules defaults."""
    graded = view_of([purchase(days_ago=1)], ranking=RANKING)
    assert (graded.ranking_version, graded.ranking_computed_at) == (7, RANKING.computed_at)
    assert view_of([purchase(days_ago=1)]).ranking_version is None


def test_the_value_row_carries_the_reporting_figures() -> None:
    """customer_value: window and lifetime figures in the reporting currency, as of fold time."""
    state = fold_many(
        new_state(CUSTOMER),
        [purchase("100.00", days_ago=200), purchase("80.00", days_ago=2)],
        NOW,
        RULES,
    )
    row = get_value_row(state, NOW, RULES)
    assert (row.window_frequency, row.window_monetary, row.window_profit) == (
        1,
        Decimal("80.00"),
        Decimal("20.00"),
    )
    assert (row.lifetime_purchases, row.lifetime_monetary, row.lifetime_profit) == (
        2,
        Decimal("180.00"),
        Decimal("45.00"),
    )
    assert (row.as_of, row.reporting_currency) == (NOW, "CNY")


def survey(csat: int | None = None, nps: int | None = None, **kw: Any) -> ParsedEvent:
    """A survey as it travels (comment sealed)."""
    payload: dict[str, Any] = {"comment_sealed": "v1:AAAA"}
    if csat is not None:
        payload["csat"] = csat
    if nps is not None:
        payload["nps"] = nps
    return event("survey", payload, channel="email", **kw)


def test_satisfaction_latest_and_recent_average() -> None:
    """The latest CSAT (1-5) and NPS (0-10) given, their means over the newest max_surveys (5)
    answers, and the count; the sealed comment never reaches the view."""
    events = [survey(csat=2, days_ago=40), survey(csat=4, nps=9, days_ago=10)]
    events += [survey(nps=6, days_ago=1)]
    view = view_of(events)
    assert view.satisfaction is not None
    assert (view.satisfaction.latest_csat, view.satisfaction.latest_nps) == (4, 6)
    assert (view.satisfaction.average_csat, view.satisfaction.average_nps) == (3.0, 7.5)
    assert view.satisfaction.count == 3
    assert "v1:AAAA" not in view.model_dump_json()
    many = [survey(csat=1 + d % 5, days_ago=d) for d in range(8)]
    assert view_of(many).satisfaction.count == 5


def test_a_survey_needs_a_score_in_range() -> None:
    """csat 1..5, nps 0..10, at least one: a 4xx names the field at ingest."""
    base = {
        "type": "survey",
        "channel": "email",
        "occurred_at": NOW.isoformat(),
        "customer": {"loyalty_id": "L1"},
    }
    assert EventIn.model_validate({**base, "payload": {"nps": 0}}).typed_payload()
    for payload in ({}, {"csat": 6}, {"nps": 11}, {"csat": 0}, {"comment": "hi"}):
        with pytest.raises(ValidationError):
            EventIn.model_validate({**base, "payload": payload}).typed_payload()


def points(delta: int | None = None, balance: int | None = None, **kw: Any) -> ParsedEvent:
    """A membership points movement and/or stated balance."""
    payload: dict[str, Any] = {"action": "points"}
    if delta is not None:
        payload["points_delta"] = delta
    if balance is not None:
        payload["points_balance"] = balance
    return event("membership", payload, channel="app", **kw)


def test_points_balance_is_the_stated_balance_plus_later_movements() -> None:
    """A statement of 900 ten days ago, +120 and -20 since: 1000; an earlier movement is in
    the statement already; never stated, the movements add up from 0."""
    events = [
        points(50, days_ago=12),
        points(balance=900, days_ago=10),
        points(120, days_ago=5),
        points(-20, days_ago=1),
    ]
    assert view_of(events).points_balance == 1000
    assert view_of(events[2:]).points_balance == 100
    assert view_of([purchase(days_ago=1)]).points_balance is None


@settings(max_examples=100, deadline=None)
@given(
    moves=st.lists(
        st.tuples(st.integers(-500, 500), st.integers(0, 300), st.booleans()),
        min_size=1,
        max_size=15,
    ),
    data=st.data(),
)
def test_points_do_not_depend_on_arrival_order(moves: list[Any], data: Any) -> None:
    """Property: any arrival order of movements and statements gives the same balance."""
    events = [
        points(balance=abs(amount)) if stated else points(amount) for amount, _, stated in moves
    ]
    events = [
        points(balance=abs(a), days_ago=d) if s else points(a, days_ago=d) for a, d, s in moves
    ]
    shuffled = data.draw(st.permutations(events))
    assert view_of(events).points_balance == view_of(shuffled).points_balance


def test_state_equality_survives_a_json_round_trip() -> None:
    """The value state (tuples, decimals, moments) reads back from JSONB as written."""
    state = fold_many(
        new_state(CUSTOMER),
        [points(5, days_ago=1), survey(csat=3, days_ago=1), purchase(days_ago=2)],
        NOW,
        RULES,
    )
    assert CustomerState.model_validate_json(state.model_dump_json()) == state


def test_rules_refuse_crossed_thresholds_and_bad_rates() -> None:
    """A above C, top band above bottom, lost after at risk; rates positive, margins 0..1."""
    for bad in (
        {"abc_a_min_profit": 0, "abc_c_max_profit": 0},
        {"rfm_top_min_product": 7, "rfm_bottom_max_product": 7},
        {"lifecycle_lost_days": 30, "lifecycle_at_risk_days": 60},
        {"currency_rates": {"USD": 0}},
        {"currency_rates": {"usd": 7}},
        {"margin_rates": {"tents": "1.5"}},
    ):
        with pytest.raises(ValidationError):
            FoldRules.model_validate(bad)

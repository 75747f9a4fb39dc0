"""Customer value in the fold: profit, money per currency, lifetime figures, surveys, points.

Profit of a purchase is the amount paid less the cost of its items: an item's cost is
quantity x `unit_cost` when the event carries one, else its price less the category's margin
(`FoldRules.margin_rates`, `default_margin_rate` for the rest), so discounts lower profit. A
return takes back its amount less the returned items' cost (no items: the amount at the
default margin). Money stays in the currency it was paid in; `to_reporting` converts with the
configured rate table when the view or the customer_value row is evaluated, and amounts in a
currency without a rate are kept apart, never summed.

Lifetime figures take each purchase and return once (`ValueState.money_ids`, the newest
`max_money_ids`); they count what was folded, so after a rebuild from `since` they count from
`since`. Everything here gives the same state whatever the arrival order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from touchpoint_common.events.models import SurveyWirePayload
from touchpoint_common.events.payloads import (
    Item,
    MembershipPayload,
    PurchasePayload,
    ReturnPayload,
)
from touchpoint_profile.fold.events import ParsedEvent
from touchpoint_profile.fold.rules import FoldRules
from touchpoint_profile.fold.state import (
    CustomerState,
    DayBucket,
    PointsState,
    SurveyRecord,
    ValueState,
    day_number,
)
from touchpoint_profile.fold.view import LifetimeValue, MoneyApart, Satisfaction

CENT = Decimal("0.01")


def cents(amount: Decimal) -> Decimal:
    """An amount rounded to the cent (half up), as the view and customer_value show it."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def item_cost(item: Item, rules: FoldRules) -> Decimal:
    """quantity x unit_cost, else the line's price less the category's margin rate."""
    if item.unit_cost is not None:
        return item.quantity * item.unit_cost
    return item.quantity * item.unit_price * (1 - rules.margin_of(item.category))


def purchase_profit(payload: PurchasePayload, rules: FoldRules) -> Decimal:
    """What a purchase earned: the amount paid less its items' cost."""
    return payload.amount - sum((item_cost(item, rules) for item in payload.items), Decimal(0))


def return_profit(payload: ReturnPayload, rules: FoldRules) -> Decimal:
    """The profit a return takes back: its amount less the returned items' cost."""
    if not payload.items:
        return payload.amount * rules.default_margin_rate
    return payload.amount - sum((item_cost(item, rules) for item in payload.items), Decimal(0))


def money_of(parsed: ParsedEvent, rules: FoldRules) -> tuple[str, Decimal, Decimal] | None:
    """(currency, net spend, profit) a purchase adds or a return takes away; None otherwise."""
    payload = parsed.payload
    if isinstance(payload, PurchasePayload):
        return payload.currency, payload.amount, purchase_profit(payload, rules)
    if isinstance(payload, ReturnPayload):
        return payload.currency, -payload.amount, -return_profit(payload, rules)
    return None


def add_amount(amounts: dict[str, Decimal], currency: str, amount: Decimal) -> None:
    """Add to one currency's amount (in place)."""
    amounts[currency] = amounts.get(currency, Decimal(0)) + amount


def add_window_money(bucket: DayBucket, parsed: ParsedEvent, rules: FoldRules) -> None:
    """A purchase or return into a day bucket's spend and profit, per currency (in place)."""
    money = money_of(parsed, rules)
    if money is not None:
        currency, spend, profit = money
        add_amount(bucket.spend, currency, spend)
        add_amount(bucket.profit, currency, profit)


VALUE_MAPS = ("spend", "profit", "money_ids", "purchase_moments", "surveys")
"""The containers of a ValueState (copied on write, merged and split by key)."""
KEYED_BY_EVENT = ("money_ids", "purchase_moments", "surveys")
"""The ValueState containers keyed by event_id: an unmerge drops the loser's keys."""


def copy_value(value: ValueState) -> ValueState:
    """A value state the fold may change: its containers are its own."""
    update: dict[str, object] = {name: dict(getattr(value, name)) for name in VALUE_MAPS}
    if value.points is not None:
        update["points"] = value.points.model_copy(update={"deltas": dict(value.points.deltas)})
    return value.model_copy(update=update)


def _fold_money(value: ValueState, parsed: ParsedEvent, rules: FoldRules) -> None:
    money = money_of(parsed, rules)
    if money is None or parsed.dedup_key in value.money_ids:
        return
    at = parsed.event.occurred_at
    value.money_ids[parsed.dedup_key] = day_number(at)
    currency, spend, profit = money
    add_amount(value.spend, currency, spend)
    add_amount(value.profit, currency, profit)
    if isinstance(parsed.payload, PurchasePayload):
        value.purchases += 1
        value.first_purchase_at = min(value.first_purchase_at or at, at)
        value.purchase_moments[parsed.event_id] = at


def _fold_survey(value: ValueState, parsed: ParsedEvent) -> None:
    payload = parsed.payload
    if isinstance(payload, SurveyWirePayload):
        value.surveys[parsed.event_id] = SurveyRecord(
            at=parsed.event.occurred_at,
            event_id=parsed.event_id,
            csat=payload.csat,
            nps=payload.nps,
        )


def _fold_points(value: ValueState, parsed: ParsedEvent) -> None:
    payload = parsed.payload
    if not isinstance(payload, MembershipPayload) or (
        payload.points_delta is None and payload.points_balance is None
    ):
        return
    points = value.points or PointsState()
    at, event_id = parsed.event.occurred_at, parsed.event_id
    if payload.points_balance is not None:
        # A stated balance already includes any movement the same event carries.
        if _after_statement(points, at, event_id):
            points.stated, points.stated_at, points.stated_by = payload.points_balance, at, event_id
    elif _after_statement(points, at, event_id):
        points.deltas[event_id] = (at, payload.points_delta or 0)
    value.points = points


def feeds_value(parsed: ParsedEvent) -> bool:
    """True for the events the value state takes: purchases, returns, surveys, points."""
    payload = parsed.payload
    if isinstance(payload, MembershipPayload):
        return payload.points_delta is not None or payload.points_balance is not None
    return isinstance(payload, PurchasePayload | ReturnPayload | SurveyWirePayload)


def apply_value(state: CustomerState, parsed: ParsedEvent, rules: FoldRules) -> None:
    """Fold a new event into the lifetime figures, surveys and points (replaces state.value)."""
    if not feeds_value(parsed):
        return
    value = copy_value(state.value)
    _fold_money(value, parsed, rules)
    _fold_survey(value, parsed)
    _fold_points(value, parsed)
    state.value = value


def is_money_duplicate(state: CustomerState, parsed: ParsedEvent) -> bool:
    """True when this purchase or return is already in the lifetime figures."""
    return parsed.dedup_key in state.value.money_ids


def _newest(records: Mapping[str, datetime], limit: int) -> set[str]:
    """The keys of the newest `limit` records, by (moment, key)."""
    ranked = sorted(records.items(), key=lambda item: (item[1], item[0]), reverse=True)
    return {key for key, _ in ranked[:limit]}


def _after_statement(points: PointsState, at: datetime, event_id: str) -> bool:
    """True when a movement at (at, event_id) came after the stated balance (or none is)."""
    return points.stated_at is None or (at, event_id) > (points.stated_at, points.stated_by or "")


def _unsettled(points: PointsState, limit: int) -> bool:
    """True when movements exceed the cap, or a statement makes movements or carry stale."""
    if len(points.deltas) > limit:
        return True
    if points.stated_at is None:
        return False
    carried_stale = points.carried_until is not None and points.carried_until <= points.stated_at
    return carried_stale or not all(
        _after_statement(points, at, event_id) for event_id, (at, _) in points.deltas.items()
    )


def _settle_points(points: PointsState, limit: int) -> PointsState:
    """Movements up to the stated balance dropped; beyond `limit` the oldest are carried."""
    deltas = {
        event_id: (at, delta)
        for event_id, (at, delta) in points.deltas.items()
        if _after_statement(points, at, event_id)
    }
    carried, carried_until = points.carried, points.carried_until
    if points.stated_at is not None and (
        carried_until is None or carried_until <= points.stated_at
    ):
        carried, carried_until = 0, None
    keep = _newest({key: at for key, (at, _) in deltas.items()}, limit)
    for event_id in [key for key in deltas if key not in keep]:
        at, delta = deltas.pop(event_id)
        carried += delta
        carried_until = max(carried_until or at, at)
    return points.model_copy(
        update={"deltas": deltas, "carried": carried, "carried_until": carried_until}
    )


def prune_value(state: CustomerState, rules: FoldRules) -> None:
    """Enforce the value state's caps (replaces state.value when something is dropped)."""
    value = state.value
    over = (
        len(value.money_ids) > rules.max_money_ids
        or len(value.purchase_moments) > rules.max_purchase_moments
        or len(value.surveys) > rules.max_surveys
        or (value.points is not None and _unsettled(value.points, rules.max_points_deltas))
    )
    if not over:
        return
    value = copy_value(value)
    if len(value.money_ids) > rules.max_money_ids:
        ranked = sorted(value.money_ids.items(), key=lambda item: (item[1], item[0]), reverse=True)
        value.money_ids = dict(ranked[: rules.max_money_ids])
    keep = _newest(value.purchase_moments, rules.max_purchase_moments)
    value.purchase_moments = {k: v for k, v in value.purchase_moments.items() if k in keep}
    kept = _newest({k: s.at for k, s in value.surveys.items()}, rules.max_surveys)
    value.surveys = {k: v for k, v in value.surveys.items() if k in kept}
    if value.points is not None:
        value.points = _settle_points(value.points, rules.max_points_deltas)
    state.value = value


def merge_value(into: ValueState, source: ValueState, rules: FoldRules) -> ValueState:
    """`into` after absorbing a merged customer's value state (figures add up)."""
    merged = copy_value(into)
    merged.purchases += source.purchases
    for currency, amount in source.spend.items():
        add_amount(merged.spend, currency, amount)
    for currency, amount in source.profit.items():
        add_amount(merged.profit, currency, amount)
    merged.money_ids.update(source.money_ids)
    if source.first_purchase_at is not None:
        merged.first_purchase_at = min(
            merged.first_purchase_at or source.first_purchase_at, source.first_purchase_at
        )
    merged.purchase_moments.update(source.purchase_moments)
    merged.surveys.update(source.surveys)
    if source.points is not None:
        merged.points = _merge_points(merged.points, source.points)
    return merged


def _merge_points(into: PointsState | None, source: PointsState) -> PointsState:
    """Both accounts' movements; the newer stated balance wins."""
    if into is None:
        return source.model_copy(update={"deltas": dict(source.deltas)})
    points = into.model_copy(update={"deltas": {**into.deltas, **source.deltas}})
    points.carried += source.carried
    if source.carried_until is not None:
        points.carried_until = max(
            points.carried_until or source.carried_until, source.carried_until
        )
    if source.stated_at is not None and (
        points.stated_at is None
        or (source.stated_at, source.stated_by or "") > (points.stated_at, points.stated_by or "")
    ):
        points.stated, points.stated_at, points.stated_by = (
            source.stated,
            source.stated_at,
            source.stated_by,
        )
    return points


def split_value(merged: ValueState, loser: ValueState) -> ValueState:
    """`merged` without what absorbing the `loser` snapshot added (an unmerge)."""
    survivor = copy_value(merged)
    survivor.purchases = max(0, survivor.purchases - loser.purchases)
    for currency, amount in loser.spend.items():
        add_amount(survivor.spend, currency, -amount)
    for currency, amount in loser.profit.items():
        add_amount(survivor.profit, currency, -amount)
    for name in KEYED_BY_EVENT:
        kept: dict[object, object] = getattr(survivor, name)
        for key in getattr(loser, name):
            kept.pop(key, None)
    if survivor.first_purchase_at is not None and survivor.first_purchase_at == (
        loser.first_purchase_at
    ):
        # Only the newest purchases are kept: the earliest of those is the best estimate left.
        remaining = list(survivor.purchase_moments.values())
        survivor.first_purchase_at = min(remaining) if survivor.purchases and remaining else None
    if survivor.points is not None and loser.points is not None:
        points = survivor.points
        for key in loser.points.deltas:
            points.deltas.pop(key, None)
        points.carried -= loser.points.carried
        if points.stated_by is not None and points.stated_by == loser.points.stated_by:
            points.stated, points.stated_at, points.stated_by = None, None, None
    survivor.spend = {c: a for c, a in survivor.spend.items() if a}
    survivor.profit = {c: a for c, a in survivor.profit.items() if a}
    return survivor


# Evaluation: the reporting currency, lifetime figures, satisfaction, points.


def to_reporting(
    amounts: Mapping[str, Decimal], rules: FoldRules
) -> tuple[Decimal, dict[str, Decimal]]:
    """Amounts with a rate summed in the reporting currency (to the cent); the others apart."""
    total = Decimal(0)
    apart: dict[str, Decimal] = {}
    for currency, amount in amounts.items():
        rate = rules.rate_of(currency)
        if rate is None:
            apart[currency] = amount
        else:
            total += amount * rate
    return cents(total), apart


def sum_amounts(buckets: Iterable[Mapping[str, Decimal]]) -> dict[str, Decimal]:
    """Per-currency sums of several per-currency amounts."""
    total: dict[str, Decimal] = {}
    for amounts in buckets:
        for currency, amount in amounts.items():
            add_amount(total, currency, amount)
    return total


@dataclass(frozen=True, slots=True)
class ReportedMoney:
    """Spend and profit in the reporting currency, and what had no rate, per currency."""

    monetary: Decimal
    profit: Decimal
    apart: list[MoneyApart]


def report_money(
    spend: Mapping[str, Decimal], profit: Mapping[str, Decimal], rules: FoldRules
) -> ReportedMoney:
    """Spend and profit converted; currencies without a rate listed apart (sorted)."""
    monetary, spend_apart = to_reporting(spend, rules)
    earned, profit_apart = to_reporting(profit, rules)
    apart = [
        MoneyApart(
            currency=currency,
            monetary=cents(spend_apart.get(currency, Decimal(0))),
            profit=cents(profit_apart.get(currency, Decimal(0))),
        )
        for currency in sorted(set(spend_apart) | set(profit_apart))
    ]
    return ReportedMoney(monetary=monetary, profit=earned, apart=apart)


def get_lifetime(state: CustomerState, rules: FoldRules) -> LifetimeValue:
    """First purchase, purchases, net spend and profit over the folded history."""
    value = state.value
    money = report_money(value.spend, value.profit, rules)
    return LifetimeValue(
        first_purchase_at=value.first_purchase_at,
        purchases=value.purchases,
        monetary=money.monetary,
        profit=money.profit,
        unconverted=money.apart,
    )


def _mean(values: list[int]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def get_satisfaction(state: CustomerState) -> Satisfaction | None:
    """Latest CSAT and NPS given, and their means over the kept (recent) surveys."""
    surveys = sorted(state.value.surveys.values(), key=lambda s: (s.at, s.event_id), reverse=True)
    if not surveys:
        return None
    csats = [s.csat for s in surveys if s.csat is not None]
    npss = [s.nps for s in surveys if s.nps is not None]
    return Satisfaction(
        latest_at=surveys[0].at,
        latest_csat=csats[0] if csats else None,
        latest_nps=npss[0] if npss else None,
        average_csat=_mean(csats),
        average_nps=_mean(npss),
        count=len(surveys),
    )


def get_points_balance(state: CustomerState) -> int | None:
    """The points balance, None when no points were ever stated or moved."""
    points = state.value.points
    return None if points is None else points.balance

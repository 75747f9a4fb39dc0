"""Evaluation of the state at a query-time `now`: RFM, tier, lifecycle, decayed interests.

F, M, the ABC tier and the R x F x M band come from the base-wide ranking when one is given
(`BaseRanking`, from the ranking job), else from the fixed defaults of FoldRules.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from touchpoint_profile.fold.apply import window_start_day
from touchpoint_profile.fold.care import (
    complaint_status,
    get_clock,
    get_hours_to_resolve,
    is_commitment_live,
)
from touchpoint_profile.fold.lifecycle import get_lifecycle as get_lifecycle
from touchpoint_profile.fold.lifecycle import whole_days as whole_days
from touchpoint_profile.fold.ranking import BaseRanking
from touchpoint_profile.fold.rules import DEFAULT_RULES, FoldRules
from touchpoint_profile.fold.state import INTEREST_EPOCH, CustomerState, DayBucket
from touchpoint_profile.fold.value import (
    ReportedMoney,
    get_lifetime,
    get_points_balance,
    get_satisfaction,
    report_money,
    sum_amounts,
)
from touchpoint_profile.fold.view import (
    Channels,
    ClosedComplaint,
    ConsentStanding,
    Interest,
    Lifecycle,
    OfferSeen,
    OpenCommitment,
    OpenComplaint,
    ProfileFigures,
    Rfm,
    RfmBand,
    Tier,
    TimelineLine,
)

SCORE_DECIMALS = 4
MAX_EXPONENT = 709.0  # math.exp overflows just above 709.78


def window_buckets(state: CustomerState, now: datetime, rules: FoldRules) -> list[DayBucket]:
    """The day buckets that fall inside the window ending at `now`."""
    start = window_start_day(now, rules)
    return [bucket for day, bucket in state.days.items() if day >= start]


def score_recency(recency_days: int | None, rules: FoldRules) -> int:
    """R by the brief's table: <=7 → 5, 8-30 → 4, 31-60 → 3, 61-120 → 2, older or never → 1."""
    if recency_days is None:
        return 1
    for score, bound in zip((5, 4, 3, 2), rules.recency_bounds, strict=True):
        if recency_days <= bound:
            return score
    return 1


def score_by_cuts(
    value: Decimal | int, cuts: list[Decimal] | list[int] | tuple[Decimal | int, ...]
) -> int:
    """1 plus the number of cut points the value reaches (1..5)."""
    return 1 + sum(1 for cut in cuts if value >= cut)


def get_window_money(state: CustomerState, now: datetime, rules: FoldRules) -> ReportedMoney:
    """Net spend and profit in the window, in the reporting currency (others apart)."""
    buckets = window_buckets(state, now, rules)
    spend = sum_amounts(bucket.spend for bucket in buckets)
    profit = sum_amounts(bucket.profit for bucket in buckets)
    return report_money(spend, profit, rules)


def get_rfm(
    state: CustomerState,
    now: datetime,
    rules: FoldRules = DEFAULT_RULES,
    ranking: BaseRanking | None = None,
    *,
    money: ReportedMoney | None = None,
) -> Rfm:
    """RFM over the window ending at `now`; returns subtract from monetary (reporting currency).

    R by the brief's table; F and M by the ranking's quintile cuts (top 20% of the base = 5 ...
    bottom 20% = 1), or by the fixed FoldRules cuts before the first ranking. `money`: the
    window money when the caller has it already (computed here otherwise).
    """
    buckets = window_buckets(state, now, rules)
    frequency = sum(bucket.purchases for bucket in buckets)
    monetary = (money or get_window_money(state, now, rules)).monetary
    recency = None if state.last_purchase_at is None else whole_days(state.last_purchase_at, now)
    frequency_cuts = ranking.frequency_cuts if ranking else tuple(rules.frequency_cuts)
    monetary_cuts = ranking.monetary_cuts if ranking else tuple(rules.monetary_cuts)
    return Rfm(
        window_days=rules.window_days,
        recency_days=recency,
        frequency=frequency,
        monetary=monetary,
        r=score_recency(recency, rules),
        f=score_by_cuts(frequency, frequency_cuts),
        m=score_by_cuts(monetary, monetary_cuts),
    )


def get_tier(
    profit: Decimal,
    lifecycle: Lifecycle,
    rules: FoldRules = DEFAULT_RULES,
    ranking: BaseRanking | None = None,
) -> Tier:
    """ABC by window profit: A at/above the A threshold, C at/below the C one, else B.

    The thresholds are the ranking's Pareto cuts (A: the ~20% bringing ~80% of profit; C: the
    ~10% bringing none) or FoldRules.abc_* before the first ranking. A new buyer who brought
    any profit is never C: new customers are to be nurtured, not dropped.
    """
    a_min = ranking.abc_a_min_profit if ranking else rules.abc_a_min_profit
    c_max = ranking.abc_c_max_profit if ranking else rules.abc_c_max_profit
    if profit >= a_min:
        return "A"
    if profit <= c_max and not (lifecycle == "new_buyer" and profit > 0):
        return "C"
    return "B"


def get_rfm_band(
    rfm: Rfm, rules: FoldRules = DEFAULT_RULES, ranking: BaseRanking | None = None
) -> RfmBand:
    """R x F x M ranked: top 20% (best), bottom 20% (to avoid), the middle 60% to move up."""
    product = rfm.r * rfm.f * rfm.m
    top_min = ranking.rfm_top_min if ranking else rules.rfm_top_min_product
    bottom_max = ranking.rfm_bottom_max if ranking else rules.rfm_bottom_max_product
    if product >= top_min:
        return "top"
    if product <= bottom_max:
        return "bottom"
    return "middle"


def _exp(exponent: float) -> float:
    """exp, saturating at the largest finite double (an `as_of` long before the events)."""
    return math.exp(min(exponent, MAX_EXPONENT))


def get_interests(
    state: CustomerState, now: datetime, rules: FoldRules = DEFAULT_RULES
) -> list[Interest]:
    """Decayed scores of product categories at `now`, highest first.

    Only purchases, page views and store visits feed them; offer answers do not (recommend
    learns from those), so an accepted perk never outranks a real product interest.
    """
    shift = rules.decay_rate_per_second * (now - INTEREST_EPOCH).total_seconds()
    scores: dict[str, float] = {}
    for category, sums in state.interests.items():
        positive = _exp(sums.log_positive - shift) if sums.log_positive is not None else 0.0
        negative = _exp(sums.log_negative - shift) if sums.log_negative is not None else 0.0
        scores[category] = positive - negative
    rounded = [(category, round(score, SCORE_DECIMALS)) for category, score in scores.items()]
    ranked = sorted((pair for pair in rounded if pair[1] > 0), key=lambda p: (-p[1], p[0]))
    return [Interest(category=category, score=score) for category, score in ranked]


def get_recent_purchases(
    state: CustomerState, now: datetime, rules: FoldRules = DEFAULT_RULES
) -> dict[str, int]:
    """Purchases in the window per category ("bought tents twice this month")."""
    counts: Counter[str] = Counter()
    for bucket in window_buckets(state, now, rules):
        counts.update(bucket.categories)
    return dict(sorted(counts.items()))


def _most_common(counter: Counter[str]) -> str | None:
    if not counter:
        return None
    return min(counter.items(), key=lambda item: (-item[1], item[0]))[0]


def get_channels(state: CustomerState, now: datetime, rules: FoldRules = DEFAULT_RULES) -> Channels:
    """Counts per channel in the window; preferred = most used (ties: alphabetical)."""
    channels: Counter[str] = Counter()
    stores: Counter[str] = Counter()
    for bucket in window_buckets(state, now, rules):
        channels.update(bucket.channels)
        stores.update(bucket.stores)
    return Channels(
        counts=dict(sorted(channels.items())),
        preferred_channel=_most_common(channels),
        preferred_store=_most_common(stores),
    )


_OPEN_FIELDS = {"complaint_id", "category", "severity", "owner", "escalated_to", "opened_at"}
_COMMITMENT_FIELDS = set(OpenCommitment.model_fields) - {"status"}


def get_complaint_due(opened_at: datetime, severity: str | None, rules: FoldRules) -> datetime:
    """When a complaint opened at `opened_at` is due by the response-time policy."""
    return opened_at + timedelta(hours=rules.complaint_response_hours.hours(severity))


def get_open_complaints(
    state: CustomerState, now: datetime, rules: FoldRules = DEFAULT_RULES
) -> list[OpenComplaint]:
    """Complaints opened and not resolved: overdue first, then the soonest due."""
    shown = []
    for c in state.complaints.values():
        if c.opened_at is None or c.resolved_at is not None:
            continue
        due_at = get_complaint_due(c.opened_at, c.severity, rules)
        shown.append(
            OpenComplaint.model_validate(
                {
                    **c.model_dump(include=_OPEN_FIELDS),
                    "status": complaint_status(c),
                    "age_days": whole_days(c.opened_at, now),
                    "age_hours": max(0, math.floor((now - c.opened_at).total_seconds() / 3600)),
                    "due_at": due_at,
                    "overdue": now > due_at,
                }
            )
        )
    shown.sort(key=lambda c: (not c.overdue, c.due_at, c.complaint_id))
    return shown


def get_closed_complaints(
    state: CustomerState, rules: FoldRules = DEFAULT_RULES
) -> list[ClosedComplaint]:
    """Resolved complaints, newest first, with time to resolve and satisfaction."""
    resolved = {
        complaint_id: get_clock(record)
        for complaint_id, record in state.complaints.items()
        if record.resolved_at is not None
    }
    resolved.update(state.complaint_clocks)
    closed = [
        ClosedComplaint(
            complaint_id=complaint_id,
            category=clock.category,
            severity=clock.severity,
            opened_at=clock.opened_at,
            resolved_at=clock.resolved_at,
            hours_to_resolve=None if hours is None else round(hours, 2),
            satisfaction=clock.satisfaction,
        )
        for complaint_id, clock in resolved.items()
        for hours in (get_hours_to_resolve(clock),)
    ]
    closed.sort(key=lambda c: (c.resolved_at, c.complaint_id), reverse=True)
    return closed[: rules.closed_complaints_shown]


def get_commitments(
    state: CustomerState, now: datetime, rules: FoldRules = DEFAULT_RULES
) -> list[OpenCommitment]:
    """Commitments made and not fulfilled, expired ones for a grace period; soonest due first."""
    shown = [
        OpenCommitment.model_validate(
            {
                **c.model_dump(include=_COMMITMENT_FIELDS),
                "status": "expired" if now > c.due_at else "open",
            }
        )
        for c in state.commitments.values()
        if is_commitment_live(c, now, rules) and c.due_at is not None
    ]
    return sorted(shown, key=lambda c: (c.due_at, c.commitment_id))


def get_offers(state: CustomerState) -> list[OfferSeen]:
    """Recent offers, newest first, with their status."""
    seen = [
        OfferSeen(
            offer_id=o.offer_id,
            decision_id=o.decision_id,
            kind=o.kind,
            status=o.outcome or "presented",
            at=o.responded_at if o.outcome and o.responded_at else o.last_at,
        )
        for o in state.offers.values()
    ]
    return sorted(seen, key=lambda o: (o.at, o.decision_id, o.offer_id), reverse=True)


def get_consents(state: CustomerState) -> list[ConsentStanding]:
    """The latest statement per purpose x channel, sorted by purpose then channel."""
    standings = []
    for key, statement in sorted(state.consents.items()):
        purpose, channel = key.split("/", 1)
        standings.append(
            ConsentStanding.model_validate(
                {
                    "purpose": purpose,
                    "channel": channel,
                    "status": statement.value,
                    "at": statement.at,
                }
            )
        )
    return standings


def get_timeline(state: CustomerState, limit: int | None = None) -> list[TimelineLine]:
    """The newest `limit` interactions, newest first."""
    entries = state.timeline if limit is None else state.timeline[: max(0, limit)]
    return [TimelineLine.model_validate(entry.model_dump()) for entry in entries]


def evaluate(
    state: CustomerState,
    now: datetime,
    rules: FoldRules = DEFAULT_RULES,
    ranking: BaseRanking | None = None,
) -> ProfileFigures:
    """The whole view of a (non-erased) state at `now`, graded by `ranking` when given (and
    ranked in the rules' reporting currency: cut points in another currency do not apply)."""
    if ranking is not None and ranking.reporting_currency != rules.reporting_currency:
        ranking = None
    money = get_window_money(state, now, rules)
    rfm = get_rfm(state, now, rules, ranking, money=money)
    lifecycle = get_lifecycle(state, now, rules)
    member = state.membership is not None and state.membership.value == "joined"
    return ProfileFigures(
        customer_id=state.customer_id,
        member=member,
        member_tier=state.member_tier.value if state.member_tier else None,
        first_seen_at=state.first_seen_at,
        last_seen_at=state.last_seen_at,
        as_of=now,
        rfm=rfm,
        tier=get_tier(money.profit, lifecycle, rules, ranking),
        lifecycle=lifecycle,
        interests=get_interests(state, now, rules),
        recent_purchases=get_recent_purchases(state, now, rules),
        channels=get_channels(state, now, rules),
        open_complaints=get_open_complaints(state, now, rules),
        closed_complaints=get_closed_complaints(state, rules),
        commitments=get_commitments(state, now, rules),
        offers=get_offers(state),
        timeline=get_timeline(state),
        consents=get_consents(state),
        **get_value_figures(state, rfm, money, rules, ranking),
    )


def get_value_figures(
    state: CustomerState,
    rfm: Rfm,
    money: ReportedMoney,
    rules: FoldRules,
    ranking: BaseRanking | None,
) -> dict[str, Any]:
    """The view's customer-value fields (issue 13): profit, lifetime, band, ranking, surveys."""
    return {
        "reporting_currency": rules.reporting_currency,
        "profit": money.profit,
        "unconverted": money.apart,
        "lifetime": get_lifetime(state, rules),
        "rfm_band": get_rfm_band(rfm, rules, ranking),
        "ranking_version": ranking.version if ranking else None,
        "ranking_computed_at": ranking.computed_at if ranking else None,
        "satisfaction": get_satisfaction(state),
        "points_balance": get_points_balance(state),
    }

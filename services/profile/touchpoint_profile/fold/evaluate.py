"""Evaluation of the state at a query-time `now`: RFM, tier, lifecycle, decayed interests."""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal

from touchpoint_profile.fold.apply import window_start_day
from touchpoint_profile.fold.care import complaint_status, is_commitment_live
from touchpoint_profile.fold.rules import DEFAULT_RULES, FoldRules
from touchpoint_profile.fold.state import INTEREST_EPOCH, CustomerState, DayBucket
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
    Tier,
    TimelineLine,
)

SCORE_DECIMALS = 4
MAX_EXPONENT = 709.0  # math.exp overflows just above 709.78


def whole_days(since: datetime, now: datetime) -> int:
    """Whole days elapsed from `since` to `now` (0 for a moment in the future)."""
    return max(0, math.floor((now - since).total_seconds() / 86400))


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


def score_by_cuts(value: Decimal | int, cuts: list[Decimal] | list[int]) -> int:
    """1 plus the number of cut points the value reaches (1..5)."""
    return 1 + sum(1 for cut in cuts if value >= cut)


def get_rfm(state: CustomerState, now: datetime, rules: FoldRules = DEFAULT_RULES) -> Rfm:
    """RFM over the window ending at `now`; returns subtract from monetary."""
    buckets = window_buckets(state, now, rules)
    frequency = sum(bucket.purchases for bucket in buckets)
    monetary = sum((bucket.net_spend for bucket in buckets), Decimal(0))
    recency = None if state.last_purchase_at is None else whole_days(state.last_purchase_at, now)
    return Rfm(
        window_days=rules.window_days,
        recency_days=recency,
        frequency=frequency,
        monetary=monetary,
        r=score_recency(recency, rules),
        f=score_by_cuts(frequency, rules.frequency_cuts),
        m=score_by_cuts(monetary, rules.monetary_cuts),
    )


def get_tier(rfm: Rfm, rules: FoldRules = DEFAULT_RULES) -> Tier:
    """ABC: A from a high R×F×M, C when the window brought no profit or a low R×F×M."""
    product = rfm.r * rfm.f * rfm.m
    if rfm.monetary <= 0:
        return "C"
    if product >= rules.tier_a_min_rfm_product:
        return "A"
    if product >= rules.tier_b_min_rfm_product:
        return "B"
    return "C"


def get_lifecycle(
    state: CustomerState, rfm: Rfm, now: datetime, rules: FoldRules = DEFAULT_RULES
) -> Lifecycle:
    """lapsed / at_risk by days since the last purchase (or first contact), then new, active."""
    reference = state.last_purchase_at or state.first_seen_at
    idle_days = whole_days(reference, now) if reference is not None else 0
    if idle_days > rules.lifecycle_lapsed_days:
        return "lapsed"
    if idle_days > rules.lifecycle_at_risk_days:
        return "at_risk"
    if state.first_seen_at is None or whole_days(state.first_seen_at, now) <= (
        rules.lifecycle_new_days
    ):
        return "new"
    if rfm.frequency >= rules.lifecycle_active_min_frequency:
        return "active"
    return "at_risk"


def _offer_weight(outcome: str | None, rules: FoldRules) -> float:
    weights = {
        "accepted": rules.weight_offer_accepted,
        "rejected": rules.weight_offer_rejected,
        "ignored": rules.weight_offer_ignored,
    }
    return weights.get(outcome or "", 0.0)


def _exp(exponent: float) -> float:
    """exp, saturating at the largest finite double (an `as_of` long before the events)."""
    return math.exp(min(exponent, MAX_EXPONENT))


def get_interests(
    state: CustomerState, now: datetime, rules: FoldRules = DEFAULT_RULES
) -> list[Interest]:
    """Decayed scores at `now`, highest first; offer outcomes count for the offer's kind."""
    shift = rules.decay_rate_per_second * (now - INTEREST_EPOCH).total_seconds()
    scores: dict[str, float] = {}
    for category, sums in state.interests.items():
        positive = _exp(sums.log_positive - shift) if sums.log_positive is not None else 0.0
        negative = _exp(sums.log_negative - shift) if sums.log_negative is not None else 0.0
        scores[category] = positive - negative
    for offer in state.offers.values():
        weight = _offer_weight(offer.outcome, rules)
        if weight == 0 or offer.responded_at is None:
            continue
        age = max(0.0, (now - offer.responded_at).total_seconds())
        category = offer.kind or offer.offer_id
        contribution = weight * math.exp(-rules.decay_rate_per_second * age)
        scores[category] = scores.get(category, 0.0) + contribution
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
_CLOSED_FIELDS = set(ClosedComplaint.model_fields) - {"hours_to_resolve"}
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
    closed = [
        ClosedComplaint.model_validate(
            {
                **c.model_dump(include=_CLOSED_FIELDS),
                "hours_to_resolve": None
                if c.opened_at is None
                else round(max(0.0, (c.resolved_at - c.opened_at).total_seconds()) / 3600, 2),
            }
        )
        for c in state.complaints.values()
        if c.resolved_at is not None
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
    state: CustomerState, now: datetime, rules: FoldRules = DEFAULT_RULES
) -> ProfileFigures:
    """The whole view of a (non-erased) state at `now`."""
    rfm = get_rfm(state, now, rules)
    member = state.membership is not None and state.membership.value == "joined"
    return ProfileFigures(
        customer_id=state.customer_id,
        member=member,
        member_tier=state.member_tier.value if state.member_tier else None,
        first_seen_at=state.first_seen_at,
        last_seen_at=state.last_seen_at,
        as_of=now,
        rfm=rfm,
        tier=get_tier(rfm, rules),
        lifecycle=get_lifecycle(state, rfm, now, rules),
        interests=get_interests(state, now, rules),
        recent_purchases=get_recent_purchases(state, now, rules),
        channels=get_channels(state, now, rules),
        open_complaints=get_open_complaints(state, now, rules),
        closed_complaints=get_closed_complaints(state, rules),
        commitments=get_commitments(state, now, rules),
        offers=get_offers(state),
        timeline=get_timeline(state),
        consents=get_consents(state),
    )

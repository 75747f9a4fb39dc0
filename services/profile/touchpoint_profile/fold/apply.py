"""One event into one customer's state, in place: the steps fold_batch (fold.py) runs.

Windowed figures (day buckets, interest sums) take an event once, guarded by the applied
set (hashes of event ids, fold/dedup.py), and only while the event is inside the window at
fold time. Everything else is a max, a min, a last-writer-wins value or a keyed top-N set,
which give the same result whatever the order and however often an event is folded.

Copy on write: the records inside a state (day buckets, interest sums, complaint and offer
records, timeline entries, stamped values) are never changed in place but replaced, so a copy
with its own containers (own_copy) is all a pure fold needs; a deep copy would cost more than
the fold itself.
"""

from __future__ import annotations

import math
from datetime import datetime

from touchpoint_common.events.models import PageViewWirePayload
from touchpoint_common.events.payloads import (
    ConsentPayload,
    MembershipAction,
    MembershipPayload,
    OfferPresentedPayload,
    OfferResponsePayload,
    PageViewPayload,
    PurchasePayload,
    StoreVisit,
)
from touchpoint_profile.fold.care import apply_care, get_care_kind, prune_care
from touchpoint_profile.fold.describe import describe
from touchpoint_profile.fold.events import ParsedEvent
from touchpoint_profile.fold.rules import FoldRules
from touchpoint_profile.fold.stamps import earlier, later, take_stamp
from touchpoint_profile.fold.state import (
    INTEREST_EPOCH,
    CustomerState,
    DayBucket,
    InterestSum,
    OfferRecord,
    Stamped,
    TimelineEntry,
    consent_key,
    day_number,
)
from touchpoint_profile.fold.value import (
    add_window_money,
    apply_value,
    is_money_duplicate,
    prune_value,
)


def own_copy(state: CustomerState) -> CustomerState:
    """A copy the fold may change: its containers are its own (see the module docstring)."""
    return state.model_copy(
        update={
            "days": dict(state.days),
            "interests": dict(state.interests),
            "timeline": list(state.timeline),
            "complaints": dict(state.complaints),
            "complaint_clocks": dict(state.complaint_clocks),
            "commitments": dict(state.commitments),
            "notes": list(state.notes),
            "offers": dict(state.offers),
            "applied": dict(state.applied),
            "merged_from": list(state.merged_from),
            "consents": dict(state.consents),
        }
    )


def copy_bucket(bucket: DayBucket | None) -> DayBucket:
    """A day bucket the fold may change (a new one for a day not seen yet)."""
    if bucket is None:
        return DayBucket()
    counts = ("channels", "stores", "categories", "spend", "profit", "care")
    return bucket.model_copy(update={name: dict(getattr(bucket, name)) for name in counts})


def window_start_day(now: datetime, rules: FoldRules) -> int:
    """The first day number inside the window ending today (window_days days, today included)."""
    return day_number(now) - rules.window_days + 1


def in_window(moment: datetime, now: datetime, rules: FoldRules) -> bool:
    """True when `moment` falls on a day the window still counts."""
    return day_number(moment) >= window_start_day(now, rules)


def is_duplicate(state: CustomerState, parsed: ParsedEvent) -> bool:
    """True when this event_id was already applied to the state (a redelivery or a re-post)."""
    event_id = parsed.event_id
    return (
        parsed.dedup_key in state.applied
        or is_money_duplicate(state, parsed)
        or any(e.event_id == event_id for e in state.timeline)
    )


def log_add(a: float | None, b: float) -> float:
    """log(exp(a) + exp(b)) without overflow; None is log 0."""
    if a is None:
        return b
    high, low = (a, b) if a >= b else (b, a)
    return high + math.log1p(math.exp(low - high))


def _log_weight(weight: float, moment: datetime, rules: FoldRules) -> float:
    seconds = (moment - INTEREST_EPOCH).total_seconds()
    return math.log(abs(weight)) + rules.decay_rate_per_second * seconds


def add_interest(
    state: CustomerState, category: str, weight: float, moment: datetime, rules: FoldRules
) -> None:
    """Add w·exp(λ·(t − epoch)) to a category's sum, kept as a log (in place)."""
    if weight == 0:
        return
    stored = state.interests.get(category)
    current = stored.model_copy() if stored else InterestSum()
    value = _log_weight(weight, moment, rules)
    if weight > 0:
        current.log_positive = log_add(current.log_positive, value)
    else:
        current.log_negative = log_add(current.log_negative, value)
    state.interests[category] = current


def _interest_categories(parsed: ParsedEvent, rules: FoldRules) -> list[tuple[str, float]]:
    payload = parsed.payload
    match payload:
        case PurchasePayload():
            categories = sorted({item.category for item in payload.items})
            return [(category, rules.weight_purchase) for category in categories]
        case PageViewPayload() | PageViewWirePayload() if payload.category:
            return [(payload.category, rules.weight_page_view)]
        case StoreVisit():
            return [(payload.category or payload.zone, rules.weight_store_visit)]
    return []


def _apply_windowed(state: CustomerState, parsed: ParsedEvent, rules: FoldRules) -> None:
    event = parsed.event
    day = day_number(event.occurred_at)
    state.applied[parsed.dedup_key] = day
    bucket = copy_bucket(state.days.get(day))
    state.days[day] = bucket
    channel = event.channel.value
    bucket.channels[channel] = bucket.channels.get(channel, 0) + 1
    if event.store_id:
        bucket.stores[event.store_id] = bucket.stores.get(event.store_id, 0) + 1
    if (kind := get_care_kind(parsed)) is not None:
        bucket.care[kind] = bucket.care.get(kind, 0) + 1
    payload = parsed.payload
    if isinstance(payload, PurchasePayload):
        bucket.purchases += 1
        for category in {item.category for item in payload.items}:
            bucket.categories[category] = bucket.categories.get(category, 0) + 1
    add_window_money(bucket, parsed, rules)
    for category, weight in _interest_categories(parsed, rules):
        add_interest(state, category, weight, event.occurred_at, rules)


def _apply_timeline(state: CustomerState, parsed: ParsedEvent, rules: FoldRules) -> None:
    event, event_id = parsed.event, parsed.event_id
    key = (event.occurred_at, event_id)
    timeline = state.timeline
    if len(timeline) >= rules.timeline_size and key <= (
        timeline[-1].occurred_at,
        timeline[-1].event_id,
    ):
        return
    if any(entry.event_id == event_id for entry in timeline):
        return
    timeline.append(
        TimelineEntry(
            event_id=event_id,
            occurred_at=event.occurred_at,
            type=event.type.value,
            channel=event.channel.value,
            store_id=event.store_id,
            line=describe(parsed),
        )
    )
    timeline.sort(key=lambda entry: (entry.occurred_at, entry.event_id), reverse=True)
    del timeline[rules.timeline_size :]


def add_offer(records: dict[str, OfferRecord], seen: OfferRecord) -> None:
    """Merge what is known of an offer: the first presentation and the last answer win."""
    key = f"{seen.decision_id}/{seen.offer_id}"
    stored = records.get(key)
    into = (
        stored.model_copy()
        if stored
        else OfferRecord(offer_id=seen.offer_id, decision_id=seen.decision_id)
    )
    take_stamp(into, seen, "presented", ("kind",), earlier)
    take_stamp(into, seen, "responded", ("outcome",), later)
    records[key] = into


def _apply_offer(state: CustomerState, parsed: ParsedEvent) -> None:
    """Presented offers and the customer's answer update their records."""
    payload = parsed.payload
    at, by = parsed.event.occurred_at, parsed.event_id
    if isinstance(payload, OfferPresentedPayload):
        for shown in payload.offers:
            presented = OfferRecord(
                offer_id=shown.offer_id,
                decision_id=payload.decision_id,
                kind=shown.kind,
                presented_at=at,
                presented_by=by,
            )
            add_offer(state.offers, presented)
    elif isinstance(payload, OfferResponsePayload):
        answered = OfferRecord(
            offer_id=payload.offer_id,
            decision_id=payload.decision_id,
            outcome=payload.outcome.value,
            responded_at=at,
            responded_by=by,
        )
        add_offer(state.offers, answered)


def _apply_membership(state: CustomerState, parsed: ParsedEvent) -> None:
    payload = parsed.payload
    if not isinstance(payload, MembershipPayload):
        return
    at, event_id = parsed.event.occurred_at, parsed.event_id
    if payload.action in (MembershipAction.JOINED, MembershipAction.LEFT):
        status = Stamped(at=at, event_id=event_id, value=payload.action.value)
        if status.newer_than(state.membership):
            state.membership = status
    tier = None if payload.action == MembershipAction.LEFT else payload.tier
    if payload.action == MembershipAction.LEFT or tier is not None:
        stamped_tier = Stamped(at=at, event_id=event_id, value=tier)
        if stamped_tier.newer_than(state.member_tier):
            state.member_tier = stamped_tier


def add_consent(consents: dict[str, Stamped], key: str, statement: Stamped) -> None:
    """Keep the latest statement of one purpose x channel (by occurred_at, then event_id)."""
    if statement.newer_than(consents.get(key)):
        consents[key] = statement


def _apply_consent(state: CustomerState, parsed: ParsedEvent) -> None:
    """A consent statement replaces an older one of the same purpose and channel."""
    payload = parsed.payload
    if not isinstance(payload, ConsentPayload):
        return
    statement = Stamped(
        at=parsed.event.occurred_at, event_id=parsed.event_id, value=payload.status.value
    )
    add_consent(state.consents, consent_key(payload.purpose, payload.channel), statement)


def apply_event(state: CustomerState, parsed: ParsedEvent, now: datetime, rules: FoldRules) -> None:
    """Fold one new (not duplicate, not erase) event into a live state, in place."""
    at = parsed.event.occurred_at
    state.first_seen_at = at if state.first_seen_at is None else min(state.first_seen_at, at)
    state.last_seen_at = at if state.last_seen_at is None else max(state.last_seen_at, at)
    if isinstance(parsed.payload, PurchasePayload) and (
        state.last_purchase_at is None or at > state.last_purchase_at
    ):
        state.last_purchase_at = at
    if in_window(at, now, rules):
        _apply_windowed(state, parsed, rules)
    _apply_timeline(state, parsed, rules)
    apply_care(state, parsed, rules)
    _apply_offer(state, parsed)
    _apply_membership(state, parsed)
    _apply_consent(state, parsed)
    apply_value(state, parsed, rules)


def prune(state: CustomerState, now: datetime, rules: FoldRules) -> None:
    """Drop what fell out of the window and enforce every cap (in place)."""
    start = window_start_day(now, rules)
    for day in [d for d in state.days if d < start]:
        del state.days[day]
    for key in [k for k, d in state.applied.items() if d < start]:
        del state.applied[key]
    if len(state.applied) > rules.max_applied_ids:
        newest = sorted(state.applied.items(), key=lambda item: (item[1], item[0]), reverse=True)
        state.applied = dict(newest[: rules.max_applied_ids])
    prune_care(state, now, rules)
    prune_value(state, rules)
    if len(state.offers) > rules.max_offers:
        newest_offers = sorted(
            state.offers.items(), key=lambda item: (item[1].last_at, item[0]), reverse=True
        )
        state.offers = dict(newest_offers[: rules.max_offers])
    if len(state.interests) > rules.max_categories:
        ranked = sorted(
            state.interests.items(),
            key=lambda item: (item[1].log_positive or -math.inf, item[0]),
            reverse=True,
        )
        state.interests = dict(ranked[: rules.max_categories])

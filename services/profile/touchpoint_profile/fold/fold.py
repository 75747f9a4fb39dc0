"""The fold: `fold(state, event, now) -> state`, pure, idempotent and order independent.

Windowed figures (day buckets, interest sums) take an event once, guarded by the applied
event_id set, and only while the event is inside the window at fold time. Everything else is
a max, a min, a last-writer-wins value or a keyed top-N set, which give the same result
whatever the order and however often an event is folded.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from touchpoint_common.events.models import ComplaintWirePayload
from touchpoint_common.events.payloads import (
    ComplaintResolvedPayload,
    MembershipAction,
    MembershipPayload,
    OfferPresentedPayload,
    OfferResponsePayload,
    PageViewPayload,
    PurchasePayload,
    ReturnPayload,
    StoreVisitPayload,
)
from touchpoint_profile.fold.describe import describe
from touchpoint_profile.fold.events import ParsedEvent
from touchpoint_profile.fold.rules import FoldRules
from touchpoint_profile.fold.state import (
    INTEREST_EPOCH,
    ComplaintRecord,
    CustomerState,
    DayBucket,
    InterestSum,
    OfferRecord,
    Stamped,
    TimelineEntry,
    day_number,
    tombstone,
)

DEFAULT_RULES = FoldRules()
MAX_MERGED_FROM = 100


def window_start_day(now: datetime, rules: FoldRules) -> int:
    """The first day number inside the window ending today (window_days days, today included)."""
    return day_number(now) - rules.window_days + 1


def in_window(moment: datetime, now: datetime, rules: FoldRules) -> bool:
    """True when `moment` falls on a day the window still counts."""
    return day_number(moment) >= window_start_day(now, rules)


def is_duplicate(state: CustomerState, parsed: ParsedEvent) -> bool:
    """True when this event_id was already applied to the state (a redelivery or a re-post)."""
    event_id = parsed.event_id
    return event_id in state.applied or any(e.event_id == event_id for e in state.timeline)


def fold(
    state: CustomerState, event: ParsedEvent, now: datetime, rules: FoldRules = DEFAULT_RULES
) -> CustomerState:
    """The state after one event, evaluated at fold time `now`; the input is not changed."""
    return fold_many(state, [event], now, rules)


def fold_many(
    state: CustomerState,
    events: Iterable[ParsedEvent],
    now: datetime,
    rules: FoldRules = DEFAULT_RULES,
) -> CustomerState:
    """The state after several events (one copy, then in place: the batch path)."""
    current = state.model_copy(deep=True)
    for parsed in events:
        current = _apply(current, parsed, now, rules)
    _prune(current, now, rules)
    return current


def fold_into(
    state: CustomerState, event: ParsedEvent, now: datetime, rules: FoldRules = DEFAULT_RULES
) -> CustomerState:
    """In place, for a caller that owns `state` (a batch's fresh copy); call prune() after."""
    return _apply(state, event, now, rules)


def prune(state: CustomerState, now: datetime, rules: FoldRules = DEFAULT_RULES) -> None:
    """Drop what fell out of the window and enforce every cap (in place)."""
    _prune(state, now, rules)


def _log_add(a: float | None, b: float) -> float:
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
    current = state.interests.setdefault(category, InterestSum())
    value = _log_weight(weight, moment, rules)
    if weight > 0:
        current.log_positive = _log_add(current.log_positive, value)
    else:
        current.log_negative = _log_add(current.log_negative, value)


def _interest_categories(parsed: ParsedEvent, rules: FoldRules) -> list[tuple[str, float]]:
    payload = parsed.payload
    match payload:
        case PurchasePayload():
            categories = sorted({item.category for item in payload.items})
            return [(category, rules.weight_purchase) for category in categories]
        case PageViewPayload() if payload.category:
            return [(payload.category, rules.weight_page_view)]
        case StoreVisitPayload():
            return [(payload.category or payload.zone, rules.weight_store_visit)]
    return []


def _apply_windowed(state: CustomerState, parsed: ParsedEvent, rules: FoldRules) -> None:
    event = parsed.event
    day = day_number(event.occurred_at)
    state.applied[parsed.event_id] = day
    bucket = state.days.setdefault(day, DayBucket())
    channel = event.channel.value
    bucket.channels[channel] = bucket.channels.get(channel, 0) + 1
    if event.store_id:
        bucket.stores[event.store_id] = bucket.stores.get(event.store_id, 0) + 1
    payload = parsed.payload
    if isinstance(payload, PurchasePayload):
        bucket.purchases += 1
        bucket.net_spend += payload.amount
        for category in {item.category for item in payload.items}:
            bucket.categories[category] = bucket.categories.get(category, 0) + 1
    elif isinstance(payload, ReturnPayload):
        bucket.net_spend -= payload.amount
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


def _earlier(at: datetime, by: str, than_at: datetime | None, than_by: str | None) -> bool:
    return than_at is None or (at, by) < (than_at, than_by or "")


def _later(at: datetime, by: str, than_at: datetime | None, than_by: str | None) -> bool:
    return than_at is None or (at, by) > (than_at, than_by or "")


def _apply_complaint(state: CustomerState, parsed: ParsedEvent) -> None:
    payload = parsed.payload
    at, by = parsed.event.occurred_at, parsed.event_id
    if isinstance(payload, ComplaintWirePayload):
        record = state.complaints.setdefault(
            payload.complaint_id, ComplaintRecord(complaint_id=payload.complaint_id)
        )
        if _earlier(at, by, record.opened_at, record.opened_by):
            record.opened_at, record.opened_by = at, by
            record.category = payload.category
            record.severity = payload.severity.value
    elif isinstance(payload, ComplaintResolvedPayload):
        record = state.complaints.setdefault(
            payload.complaint_id, ComplaintRecord(complaint_id=payload.complaint_id)
        )
        if _later(at, by, record.resolved_at, record.resolved_by):
            record.resolved_at, record.resolved_by = at, by


def _offer_key(decision_id: str, offer_id: str) -> str:
    return f"{decision_id}/{offer_id}"


def _apply_offer(state: CustomerState, parsed: ParsedEvent) -> None:
    payload = parsed.payload
    at, by = parsed.event.occurred_at, parsed.event_id
    if isinstance(payload, OfferPresentedPayload):
        for shown in payload.offers:
            key = _offer_key(payload.decision_id, shown.offer_id)
            record = state.offers.setdefault(
                key, OfferRecord(offer_id=shown.offer_id, decision_id=payload.decision_id)
            )
            if _earlier(at, by, record.presented_at, record.presented_by):
                record.presented_at, record.presented_by = at, by
                record.kind = shown.kind
    elif isinstance(payload, OfferResponsePayload):
        key = _offer_key(payload.decision_id, payload.offer_id)
        record = state.offers.setdefault(
            key, OfferRecord(offer_id=payload.offer_id, decision_id=payload.decision_id)
        )
        if _later(at, by, record.responded_at, record.responded_by):
            record.responded_at, record.responded_by = at, by
            record.outcome = payload.outcome.value


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


def _apply(
    state: CustomerState, parsed: ParsedEvent, now: datetime, rules: FoldRules
) -> CustomerState:
    if state.is_erased:
        return state
    event = parsed.event
    if event.type.value == "erase":
        return tombstone(state.customer_id, event.occurred_at)
    if parsed.event_id in state.applied:
        return state
    at = event.occurred_at
    state.first_seen_at = at if state.first_seen_at is None else min(state.first_seen_at, at)
    state.last_seen_at = at if state.last_seen_at is None else max(state.last_seen_at, at)
    if isinstance(parsed.payload, PurchasePayload) and (
        state.last_purchase_at is None or at > state.last_purchase_at
    ):
        state.last_purchase_at = at
    if in_window(at, now, rules):
        _apply_windowed(state, parsed, rules)
    _apply_timeline(state, parsed, rules)
    _apply_complaint(state, parsed)
    _apply_offer(state, parsed)
    _apply_membership(state, parsed)
    return state


def _keep_newest(records: dict[str, ComplaintRecord], limit: int) -> None:
    if len(records) <= limit:
        return

    def priority(record: ComplaintRecord) -> tuple[bool, str, str]:
        moment = record.resolved_at or record.opened_at
        # Open complaints are kept before resolved ones; then the newest.
        stamp = moment.isoformat() if moment else ""
        return (record.resolved_at is None, stamp, record.complaint_id)

    keep = sorted(records.values(), key=priority, reverse=True)[:limit]
    kept_ids = {record.complaint_id for record in keep}
    for complaint_id in list(records):
        if complaint_id not in kept_ids:
            del records[complaint_id]


def _prune(state: CustomerState, now: datetime, rules: FoldRules) -> None:
    """Drop what fell out of the window and enforce every cap (in place)."""
    start = window_start_day(now, rules)
    for day in [d for d in state.days if d < start]:
        del state.days[day]
    for event_id in [e for e, d in state.applied.items() if d < start]:
        del state.applied[event_id]
    if len(state.applied) > rules.max_applied_ids:
        newest = sorted(state.applied.items(), key=lambda item: (item[1], item[0]), reverse=True)
        state.applied = dict(newest[: rules.max_applied_ids])
    _keep_newest(state.complaints, rules.max_complaints)
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


def merge_states(
    target: CustomerState, source: CustomerState, now: datetime, rules: FoldRules = DEFAULT_RULES
) -> CustomerState:
    """`target` after absorbing `source` (an identify merged it in); merging twice is a no-op."""
    if target.is_erased or source.is_erased or source.customer_id in target.merged_from:
        return target
    merged = target.model_copy(deep=True)
    for moment in (source.first_seen_at,):
        if moment is not None:
            merged.first_seen_at = min(merged.first_seen_at or moment, moment)
    for attr in ("last_seen_at", "last_purchase_at"):
        moment = getattr(source, attr)
        if moment is not None:
            setattr(merged, attr, max(getattr(merged, attr) or moment, moment))
    for attr in ("membership", "member_tier"):
        stamped: Stamped | None = getattr(source, attr)
        if stamped is not None and stamped.newer_than(getattr(merged, attr)):
            setattr(merged, attr, stamped.model_copy())
    for day, bucket in source.days.items():
        into = merged.days.setdefault(day, DayBucket())
        into.purchases += bucket.purchases
        into.net_spend += bucket.net_spend
        for channel, count in bucket.channels.items():
            into.channels[channel] = into.channels.get(channel, 0) + count
        for store, count in bucket.stores.items():
            into.stores[store] = into.stores.get(store, 0) + count
        for category, count in bucket.categories.items():
            into.categories[category] = into.categories.get(category, 0) + count
    for category, sums in source.interests.items():
        into_sum = merged.interests.setdefault(category, InterestSum())
        if sums.log_positive is not None:
            into_sum.log_positive = _log_add(into_sum.log_positive, sums.log_positive)
        if sums.log_negative is not None:
            into_sum.log_negative = _log_add(into_sum.log_negative, sums.log_negative)
    known = {entry.event_id for entry in merged.timeline}
    merged.timeline.extend(e.model_copy() for e in source.timeline if e.event_id not in known)
    merged.timeline.sort(key=lambda entry: (entry.occurred_at, entry.event_id), reverse=True)
    del merged.timeline[rules.timeline_size :]
    for complaint_id, complaint in source.complaints.items():
        mine = merged.complaints.setdefault(
            complaint_id, ComplaintRecord(complaint_id=complaint_id)
        )
        if complaint.opened_at is not None and _earlier(
            complaint.opened_at, complaint.opened_by or "", mine.opened_at, mine.opened_by
        ):
            mine.opened_at, mine.opened_by = complaint.opened_at, complaint.opened_by
            mine.category, mine.severity = complaint.category, complaint.severity
        if complaint.resolved_at is not None and _later(
            complaint.resolved_at, complaint.resolved_by or "", mine.resolved_at, mine.resolved_by
        ):
            mine.resolved_at, mine.resolved_by = complaint.resolved_at, complaint.resolved_by
    for key, offer in source.offers.items():
        merged.offers.setdefault(key, offer.model_copy())
    merged.applied.update(source.applied)
    merged.merged_from = [*merged.merged_from, source.customer_id, *source.merged_from][
        -MAX_MERGED_FROM:
    ]
    _prune(merged, now, rules)
    return merged


def net_spend(buckets: Iterable[DayBucket]) -> Decimal:
    """Sum of net spend over buckets."""
    return sum((bucket.net_spend for bucket in buckets), Decimal(0))

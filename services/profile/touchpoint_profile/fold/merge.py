"""Merging one customer's state into another's, when an identify event links them."""

from __future__ import annotations

from datetime import datetime

from touchpoint_profile.fold.apply import (
    add_consent,
    add_offer,
    copy_bucket,
    log_add,
    own_copy,
    prune,
)
from touchpoint_profile.fold.care import (
    add_commitment,
    add_complaint,
    add_complaint_clock,
    add_notes,
)
from touchpoint_profile.fold.rules import DEFAULT_RULES, FoldRules
from touchpoint_profile.fold.state import (
    CustomerState,
    InterestSum,
    Stamped,
)
from touchpoint_profile.fold.value import add_amount, merge_value

MAX_MERGED_FROM = 100


def merge_states(
    target: CustomerState, source: CustomerState, now: datetime, rules: FoldRules = DEFAULT_RULES
) -> CustomerState:
    """`target` after absorbing `source` (an identify merged it in); merging twice is a no-op."""
    if target.is_erased or source.is_erased or source.customer_id in target.merged_from:
        return target
    merged = own_copy(target)
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
        into = copy_bucket(merged.days.get(day))
        merged.days[day] = into
        into.purchases += bucket.purchases
        for currency, amount in bucket.spend.items():
            add_amount(into.spend, currency, amount)
        for currency, amount in bucket.profit.items():
            add_amount(into.profit, currency, amount)
        for channel, count in bucket.channels.items():
            into.channels[channel] = into.channels.get(channel, 0) + count
        for store, count in bucket.stores.items():
            into.stores[store] = into.stores.get(store, 0) + count
        for category, count in bucket.categories.items():
            into.categories[category] = into.categories.get(category, 0) + count
        for kind, count in bucket.care.items():
            into.care[kind] = into.care.get(kind, 0) + count
    for category, sums in source.interests.items():
        stored = merged.interests.get(category)
        into_sum = stored.model_copy() if stored else InterestSum()
        if sums.log_positive is not None:
            into_sum.log_positive = log_add(into_sum.log_positive, sums.log_positive)
        if sums.log_negative is not None:
            into_sum.log_negative = log_add(into_sum.log_negative, sums.log_negative)
        merged.interests[category] = into_sum
    known = {entry.event_id for entry in merged.timeline}
    merged.timeline.extend(e for e in source.timeline if e.event_id not in known)
    merged.timeline.sort(key=lambda entry: (entry.occurred_at, entry.event_id), reverse=True)
    del merged.timeline[rules.timeline_size :]
    for complaint in source.complaints.values():
        add_complaint(merged, complaint)
    for complaint_id, clock in source.complaint_clocks.items():
        add_complaint_clock(merged, complaint_id, clock)
    for commitment in source.commitments.values():
        add_commitment(merged.commitments, commitment)
    add_notes(merged, source.notes, rules)
    for offer in source.offers.values():
        add_offer(merged.offers, offer)
    for key, statement in source.consents.items():
        add_consent(merged.consents, key, statement)
    merged.applied.update(source.applied)
    merged.value = merge_value(merged.value, source.value, rules)
    merged.merged_from = [*merged.merged_from, source.customer_id, *source.merged_from][
        -MAX_MERGED_FROM:
    ]
    prune(merged, now, rules)
    return merged

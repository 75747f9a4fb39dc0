"""Splitting a merged customer's state again, when an `unmerge` event undoes a merge.

A merge keeps the loser's state as it was at the merge (its row, with merged_into set), so the
split subtracts exactly what the merge added: the windowed sums (purchases, spend, channels,
stores, categories), the interest sums, and the sets (timeline, complaints, commitments, notes,
offers, the dedup set) by event, complaint, commitment and offer id, and the lifetime figures
(fold/value.split_value). Last-writer values that came from the loser (membership, tier) are
cleared on the survivor, and first/last seen are recomputed from what remains.
"""

from __future__ import annotations

import math
from decimal import Decimal

from touchpoint_profile.fold.apply import copy_bucket, own_copy
from touchpoint_profile.fold.dedup import event_key
from touchpoint_profile.fold.state import CustomerState, DayBucket, InterestSum
from touchpoint_profile.fold.value import split_value


def log_sub(a: float | None, b: float | None) -> float | None:
    """log(exp(a) - exp(b)), None (log 0) when nothing (or only rounding) remains."""
    if a is None or b is None:
        return a
    if b >= a:
        return None
    remainder = -math.expm1(b - a)
    return None if remainder < 1e-12 else a + math.log(remainder)


def split_states(merged: CustomerState, loser: CustomerState) -> CustomerState:
    """`merged` without what absorbing the `loser` snapshot added to it."""
    survivor = own_copy(merged)
    for day, bucket in loser.days.items():
        if day in survivor.days:
            remaining = _subtract_bucket(copy_bucket(survivor.days[day]), bucket)
            if remaining is None:
                del survivor.days[day]
            else:
                survivor.days[day] = remaining
    for category, sums in loser.interests.items():
        if (stored := survivor.interests.get(category)) is not None:
            left = InterestSum(
                log_positive=log_sub(stored.log_positive, sums.log_positive),
                log_negative=log_sub(stored.log_negative, sums.log_negative),
            )
            if left.log_positive is None and left.log_negative is None:
                del survivor.interests[category]
            else:
                survivor.interests[category] = left
    timeline_ids = {entry.event_id for entry in loser.timeline}

    def brought(event_id: str) -> bool:
        """True when the loser brought this event (in its timeline or its dedup set)."""
        return event_id in timeline_ids or event_key(event_id) in loser.applied

    survivor.timeline = [entry for entry in survivor.timeline if not brought(entry.event_id)]
    for key in [*loser.complaints, *loser.complaint_clocks]:
        survivor.complaints.pop(key, None)
        survivor.complaint_clocks.pop(key, None)
    for key in loser.offers:
        survivor.offers.pop(key, None)
    for key in loser.commitments:
        survivor.commitments.pop(key, None)
    their_notes = {note.event_id for note in loser.notes}
    survivor.notes = [
        note
        for note in survivor.notes
        if note.event_id not in their_notes and not brought(note.event_id)
    ]
    for dedup_key in loser.applied:
        survivor.applied.pop(dedup_key, None)
    gone = {loser.customer_id, *loser.merged_from}
    survivor.merged_from = [cid for cid in survivor.merged_from if cid not in gone]
    for attr in ("membership", "member_tier"):
        stamped = getattr(survivor, attr)
        if stamped is not None and brought(stamped.event_id):
            setattr(survivor, attr, None)
    survivor.value = split_value(survivor.value, loser.value)
    _recompute_moments(survivor, loser)
    return survivor


def restored(loser: CustomerState) -> CustomerState:
    """The loser's own state again: its snapshot, live."""
    return loser.model_copy(deep=True, update={"merged_into": None})


def _subtract_bucket(into: DayBucket, bucket: DayBucket) -> DayBucket | None:
    """`into` less `bucket`, None when nothing is left."""
    into.purchases = max(0, into.purchases - bucket.purchases)
    for money, taken in ((into.spend, bucket.spend), (into.profit, bucket.profit)):
        for currency, amount in taken.items():
            left_amount = money.get(currency, Decimal(0)) - amount
            if left_amount:
                money[currency] = left_amount
            else:
                money.pop(currency, None)
    for mine, theirs in (
        (into.channels, bucket.channels),
        (into.stores, bucket.stores),
        (into.categories, bucket.categories),
        (into.care, bucket.care),
    ):
        for key, count in theirs.items():
            left = mine.get(key, 0) - count
            if left > 0:
                mine[key] = left
            else:
                mine.pop(key, None)
    empty = not (into.purchases or into.channels or into.stores or into.categories)
    return None if empty and not into.spend and not into.profit else into


def _recompute_moments(state: CustomerState, loser: CustomerState) -> None:
    """first/last seen and last purchase that came from the loser, from what is left."""
    moments = [entry.occurred_at for entry in state.timeline]
    purchases = [e.occurred_at for e in state.timeline if e.type == "purchase"]
    purchases += state.value.purchase_moments.values()
    if loser.first_seen_at is not None and state.first_seen_at == loser.first_seen_at:
        state.first_seen_at = min(moments) if moments else None
    if loser.last_seen_at is not None and state.last_seen_at == loser.last_seen_at:
        state.last_seen_at = max(moments) if moments else None
    if loser.last_purchase_at is not None and state.last_purchase_at == loser.last_purchase_at:
        state.last_purchase_at = max(purchases) if purchases else None

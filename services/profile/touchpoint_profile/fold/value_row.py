"""The narrow customer_value row of a state: what the ranking job and managers' figures read.

Pure: the fold shell (consumer/batch.py) writes the rows of a batch's live states in the same
transaction as the states, and removes the rows of erased and merged-away customers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from touchpoint_profile.fold.apply import window_start_day
from touchpoint_profile.fold.care import get_care_contact_days
from touchpoint_profile.fold.evaluate import get_channels, get_rfm, get_window_money
from touchpoint_profile.fold.rules import FoldRules
from touchpoint_profile.fold.state import CustomerState
from touchpoint_profile.fold.value import get_lifetime


@dataclass(frozen=True, slots=True)
class CustomerValueRow:
    """One row of customer_value (migration 0010); money in the reporting currency."""

    customer_id: str
    reporting_currency: str
    as_of: datetime
    """When the window figures were evaluated: the fold time of the customer's last batch."""
    window_frequency: int
    window_monetary: Decimal
    window_profit: Decimal
    lifetime_purchases: int
    lifetime_monetary: Decimal
    lifetime_profit: Decimal
    first_seen_at: datetime | None
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None
    member_tier: str | None
    preferred_store: str | None
    """The store with the most events in the window (the view's channels.preferred_store)."""
    care_calls: list[date]
    """Days of the newest calls (not dropped) in the window, newest first, one per call, at
    most CARE_CONTACTS_KEPT: the tier service plans count them (migration 0015)."""
    care_visits: list[date]
    """Days of the newest store visits in the window, the same way."""


def has_value_row(state: CustomerState) -> bool:
    """Live customers have a row; erased ones and merge pointers have none."""
    return not state.is_erased and state.merged_into is None


def get_value_row(state: CustomerState, now: datetime, rules: FoldRules) -> CustomerValueRow:
    """The customer_value row of a live state, window figures evaluated at `now`."""
    money = get_window_money(state, now, rules)
    rfm = get_rfm(state, now, rules, money=money)
    lifetime = get_lifetime(state, rules)
    start = window_start_day(now, rules)
    window = {day: bucket for day, bucket in state.days.items() if day >= start}
    return CustomerValueRow(
        customer_id=state.customer_id,
        reporting_currency=rules.reporting_currency,
        as_of=now,
        window_frequency=rfm.frequency,
        window_monetary=money.monetary,
        window_profit=money.profit,
        lifetime_purchases=lifetime.purchases,
        lifetime_monetary=lifetime.monetary,
        lifetime_profit=lifetime.profit,
        first_seen_at=state.first_seen_at,
        first_purchase_at=lifetime.first_purchase_at,
        last_purchase_at=state.last_purchase_at,
        member_tier=state.member_tier.value if state.member_tier else None,
        preferred_store=get_channels(state, now, rules).preferred_store,
        care_calls=get_care_contact_days(window, "call"),
        care_visits=get_care_contact_days(window, "visit"),
    )

"""The narrow customer_value row of a state: what the ranking job and managers' figures read.

Pure: the fold shell (consumer/batch.py) writes the rows of a batch's live states in the same
transaction as the states, and removes the rows of erased and merged-away customers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from touchpoint_profile.fold.evaluate import get_rfm, get_window_money
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


def has_value_row(state: CustomerState) -> bool:
    """Live customers have a row; erased ones and merge pointers have none."""
    return not state.is_erased and state.merged_into is None


def get_value_row(state: CustomerState, now: datetime, rules: FoldRules) -> CustomerValueRow:
    """The customer_value row of a live state, window figures evaluated at `now`."""
    window = get_window_money(state, now, rules)
    rfm = get_rfm(state, now, rules, money=window)
    lifetime = get_lifetime(state, rules)
    return CustomerValueRow(
        customer_id=state.customer_id,
        reporting_currency=rules.reporting_currency,
        as_of=now,
        window_frequency=rfm.frequency,
        window_monetary=window.monetary,
        window_profit=window.profit,
        lifetime_purchases=lifetime.purchases,
        lifetime_monetary=lifetime.monetary,
        lifetime_profit=lifetime.profit,
        first_seen_at=state.first_seen_at,
        first_purchase_at=lifetime.first_purchase_at,
        last_purchase_at=state.last_purchase_at,
        member_tier=state.member_tier.value if state.member_tier else None,
    )

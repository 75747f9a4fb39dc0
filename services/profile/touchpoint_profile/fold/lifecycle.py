"""The customer lifecycle as the texts define it (brief section 5), evaluated at `now`.

Churn and "lost" are about buyers: a former buyer who stopped buying. Someone who never bought
is a prospect, however long we have known them and however often they visit. The stages, by
trigger, checked in this order (whole days at `now`; every bound is a FoldRules field):

- `prospect`: no purchase folded, ever.
- `lost`: a buyer whose last purchase is more than `lifecycle_lost_days` (120) days old, the
  brief's R score 1 (> 120 days).
- `at_risk`: a buyer whose last purchase is more than `lifecycle_at_risk_days` (60) days old
  (R score 2: 61-120 days): slipping; warn early and try to win them back.
- `won_back`: a buyer whose latest purchase came more than `lifecycle_at_risk_days` after the
  one before it (they had slipped and came back), for `lifecycle_won_back_days` (30) days.
- `new_buyer`: the first purchase is at most `lifecycle_new_days` (30) days old: to be nurtured.
- `mature`: first purchase at least `lifecycle_mature_days` (365) days ago and at least
  `lifecycle_mature_min_purchases` (6) purchases: an established customer.
- `active`: every other buyer (buying and growing).
"""

from __future__ import annotations

import math
from datetime import datetime

from touchpoint_profile.fold.rules import DEFAULT_RULES, FoldRules
from touchpoint_profile.fold.state import CustomerState
from touchpoint_profile.fold.view import Lifecycle


def whole_days(since: datetime, now: datetime) -> int:
    """Whole days elapsed from `since` to `now` (0 for a moment in the future)."""
    return max(0, math.floor((now - since).total_seconds() / 86400))


def is_buyer(state: CustomerState) -> bool:
    """True once any purchase was folded (states folded before lifetime figures included)."""
    return state.last_purchase_at is not None or state.value.first_purchase_at is not None


def came_back_at(state: CustomerState, rules: FoldRules) -> datetime | None:
    """The latest purchase when it followed the one before by more than the at-risk gap."""
    moments = sorted(state.value.purchase_moments.values(), reverse=True)
    if len(moments) < 2:
        return None
    latest, before = moments[0], moments[1]
    return latest if whole_days(before, latest) > rules.lifecycle_at_risk_days else None


def get_lifecycle(
    state: CustomerState, now: datetime, rules: FoldRules = DEFAULT_RULES
) -> Lifecycle:
    """The stage by the triggers of the module docstring: only buyers are at_risk or lost."""
    last = state.last_purchase_at or state.value.first_purchase_at
    if not is_buyer(state) or last is None:
        return "prospect"
    idle = whole_days(last, now)
    if idle > rules.lifecycle_lost_days:
        return "lost"
    if idle > rules.lifecycle_at_risk_days:
        return "at_risk"
    returned = came_back_at(state, rules)
    if returned is not None and whole_days(returned, now) <= rules.lifecycle_won_back_days:
        return "won_back"
    first = state.value.first_purchase_at or last
    if whole_days(first, now) <= rules.lifecycle_new_days:
        return "new_buyer"
    if (
        whole_days(first, now) >= rules.lifecycle_mature_days
        and state.value.purchases >= rules.lifecycle_mature_min_purchases
    ):
        return "mature"
    return "active"

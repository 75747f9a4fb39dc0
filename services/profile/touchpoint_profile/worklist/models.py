"""The worklist's shapes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel

Reason = Literal["at_risk_a", "at_risk_b", "lost_most_valuable", "new_buyer_no_repeat"]
REASON_TEXT: dict[Reason, str] = {
    "at_risk_a": "A customer (top profit) slipping: no purchase for {days} days",
    "at_risk_b": "B customer slipping: no purchase for {days} days",
    "lost_most_valuable": "was among the most valuable; no purchase for {days} days: win back",
    "new_buyer_no_repeat": "new buyer, {days} days since the first purchase and no second yet",
}
"""Why a customer is on the list, in priority order (the texts: warn early on the valuable
ones slipping, try to win the lost back, nurture new customers)."""


class WorkItem(BaseModel):
    """One customer to contact, with the reason (no personal data: ids and figures only)."""

    customer_id: str
    priority: int
    """1 = first; the order of REASON_TEXT."""
    reason_code: Reason
    reason: str
    days_since_purchase: int
    window_profit: Decimal
    lifetime_profit: Decimal


class Worklist(BaseModel):
    """`GET /v1/worklist`: the list at `as_of`, and the ranking it was cut with."""

    as_of: datetime
    ranking_version: int | None
    """None before the first ranking: A/B cannot be told apart, at-risk buyers come by profit."""
    items: list[WorkItem]
    # TODO(lead): overdue care contacts (tier service plans), open complaints past due and
    # commitments due come from the branches that hold them (complaints, valuefold).

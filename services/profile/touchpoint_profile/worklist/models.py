"""The worklist's shapes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel

from touchpoint_profile.care.plans import CarePlan

Reason = Literal[
    "at_risk_a",
    "complaint_overdue",
    "commitment_due",
    "at_risk_b",
    "lost_most_valuable",
    "below_care_plan",
    "new_buyer_no_repeat",
]
REASON_TEXT: dict[Reason, str] = {
    "at_risk_a": "A customer (top profit) slipping: no purchase for {days} days",
    "complaint_overdue": "{complaints} open complaint(s) past due: the oldest was due {hours} "
    "hours ago",
    "commitment_due": "{commitments} promise(s) to keep today: the first {when}",
    "at_risk_b": "B customer slipping: no purchase for {days} days",
    "lost_most_valuable": "was among the most valuable; no purchase for {days} days: win back",
    "below_care_plan": "{tier} customer below the care plan: {visits} of {plan_visits} visits "
    "and {calls} of {plan_calls} calls in the last {plan_days} days",
    "new_buyer_no_repeat": "new buyer, {days} days since the first purchase and no second yet",
}
"""Why a customer is on the list, in priority order: the valuable ones slipping first (the
texts: warn early), then the service the company owes (complaints past their response time,
promises due), the B customers slipping, the lost valuable ones to win back, the tier service
plans (A before B before C), and new customers to nurture."""
Tier = Literal["A", "B", "C"]


class WorkReason(BaseModel):
    """One reason a customer is on the list, as a code and a sentence a manager reads."""

    code: Reason
    text: str


class WorkItem(BaseModel):
    """One customer to contact, with every reason (no personal data: ids and figures only)."""

    customer_id: str
    priority: int
    """1 = first; the position of the first reason in REASON_TEXT."""
    reason_code: Reason
    """The first (most urgent) reason; `reasons` lists them all."""
    reason: str
    reasons: list[WorkReason]
    tier: Tier | None
    """ABC by window profit with the current ranking (None: never bought, or another
    reporting currency)."""
    days_since_purchase: int | None
    """None: never bought."""
    window_profit: Decimal
    lifetime_profit: Decimal
    complaints_overdue: int
    """Open complaints past their due time (opened + the severity's response time)."""
    commitments_due: int
    """Promises made on a call or visit, not kept, due within the day or overdue."""
    care_visits: int
    """Store visits in the plan period (at most the 10 newest are counted)."""
    care_calls: int
    """Calls (not dropped) in the plan period (the same)."""
    care_plan: CarePlan | None
    """The tier's plan (None without a tier)."""


class Worklist(BaseModel):
    """`GET /v1/worklist`: the list at `as_of`, and the ranking it was cut with."""

    as_of: datetime
    ranking_version: int | None
    """None before the first ranking: nobody is A, buyers with profit are B."""
    store_id: str | None
    """The preferred store the list was cut to (None: every store)."""
    care_plan_days: int
    items: list[WorkItem]

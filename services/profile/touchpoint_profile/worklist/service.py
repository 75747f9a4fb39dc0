"""The worklist in one query: customer_value (tiers, plans, lifecycle) and the care clocks
beside the states (open complaints, commitments; partial indexes), cut with the current
ranking."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint_profile.care.overdue import DUE_AT, get_policy_params
from touchpoint_profile.care.plans import CarePlans
from touchpoint_profile.fold.rules import FoldRules
from touchpoint_profile.ranking.current import get_current_ranking
from touchpoint_profile.worklist.models import (
    REASON_TEXT,
    Reason,
    Tier,
    WorkItem,
    Worklist,
    WorkReason,
)

NO_THRESHOLD = Decimal("1e15")
"""Before a ranking nobody is A or most valuable."""
NURTURE_AFTER_DAYS = 7
"""A new buyer is nudged for a second purchase from a week after the first."""
TIERS: tuple[Tier, ...] = ("A", "B", "C")

_PLAN_MET = (
    "(coalesce(care_visits[CAST(:{t}_visits AS int)] >= :plan_since, :{t}_visits = 0) "
    "AND coalesce(care_calls[CAST(:{t}_calls AS int)] >= :plan_since, :{t}_calls = 0))"
)
"""SQL: a tier's plan is met when its n-th newest visit and m-th newest call lie inside the
plan period (the days are stored newest first; n = 0 needs none)."""
WORKLIST = """
WITH care AS MATERIALIZED (
    SELECT customer_id,
        (SELECT count(*) FROM unnest(open_complaint_severity, open_complaint_opened_at)
             AS o(severity, opened_at) WHERE {due_at} < :now) AS complaints_overdue,
        (SELECT min({due_at}) FROM unnest(open_complaint_severity, open_complaint_opened_at)
             AS o(severity, opened_at)) AS complaint_due_at,
        (SELECT count(*) FROM unnest(open_commitment_due_at) AS d
             WHERE d < :due_before AND d >= :expired_before) AS commitments_due,
        (SELECT min(d) FROM unnest(open_commitment_due_at) AS d
             WHERE d >= :expired_before) AS commitment_due_at
    FROM profile_customers
    WHERE (open_complaint_opened_at IS NOT NULL OR open_commitment_due_at IS NOT NULL)
      AND NOT erased
),
valued AS (
    SELECT v.customer_id, v.window_profit, v.lifetime_profit, v.last_purchase_at,
        v.first_purchase_at, v.lifetime_purchases, v.care_visits, v.care_calls,
        coalesce(c.complaints_overdue, 0) AS complaints_overdue, c.complaint_due_at,
        coalesce(c.commitments_due, 0) AS commitments_due, c.commitment_due_at,
        CASE
            WHEN v.reporting_currency <> :currency OR v.last_purchase_at IS NULL THEN NULL
            WHEN v.as_of < :window_start THEN 'C'
            WHEN v.window_profit >= :a_min THEN 'A'
            WHEN v.window_profit > :c_max THEN 'B'
            ELSE 'C'
        END AS tier
    FROM customer_value v LEFT JOIN care c ON c.customer_id = v.customer_id
    {store_filter}
),
reasoned AS (
    SELECT *, array_remove(ARRAY[
        CASE WHEN :want_at_risk_a AND tier = 'A' AND last_purchase_at < :at_risk_before
             AND last_purchase_at >= :lost_before THEN 'at_risk_a' END,
        CASE WHEN :want_complaint_overdue AND complaints_overdue > 0
             THEN 'complaint_overdue' END,
        CASE WHEN :want_commitment_due AND commitments_due > 0 THEN 'commitment_due' END,
        CASE WHEN :want_at_risk_b AND tier = 'B' AND last_purchase_at < :at_risk_before
             AND last_purchase_at >= :lost_before THEN 'at_risk_b' END,
        CASE WHEN :want_lost_most_valuable AND tier IS NOT NULL
             AND last_purchase_at < :lost_before AND lifetime_profit >= :valuable_min
             THEN 'lost_most_valuable' END,
        CASE WHEN :want_below_care_plan AND last_purchase_at >= :lost_before AND NOT CASE tier
                 WHEN 'A' THEN {plan_a} WHEN 'B' THEN {plan_b} WHEN 'C' THEN {plan_c} ELSE true
             END THEN 'below_care_plan' END,
        CASE WHEN :want_new_buyer_no_repeat AND tier IS NOT NULL AND lifetime_purchases = 1
             AND first_purchase_at >= :new_since AND first_purchase_at < :nurture_after
             THEN 'new_buyer_no_repeat' END
    ], NULL) AS reasons
    FROM valued
)
SELECT customer_id, reasons, tier, window_profit, lifetime_profit, last_purchase_at,
    first_purchase_at, complaints_overdue, complaint_due_at, commitments_due,
    commitment_due_at,
    (SELECT count(*) FROM unnest(care_visits) AS d WHERE d >= :plan_since) AS visits,
    (SELECT count(*) FROM unnest(care_calls) AS d WHERE d >= :plan_since) AS calls
FROM reasoned
WHERE cardinality(reasons) > 0
ORDER BY array_position(CAST(:order AS text[]), reasons[1]),
    CASE reasons[1] WHEN 'complaint_overdue' THEN complaint_due_at
                    WHEN 'commitment_due' THEN commitment_due_at END,
    tier, window_profit DESC, lifetime_profit DESC, customer_id
LIMIT :limit
"""
"""Every reason is a CASE over one row; the list is the top `limit` by the first reason's
place in REASON_TEXT, then (complaints, commitments) the soonest due, then tier (A first),
window profit and profit to date."""


def get_worklist_query(*, by_store: bool) -> TextClause:
    """The worklist statement, cut to one preferred store or not (two texts, so each keeps
    its own plan: the store cut uses the preferred_store index)."""
    plans = {f"plan_{tier.lower()}": _PLAN_MET.format(t=tier.lower()) for tier in TIERS}
    store_filter = "WHERE v.preferred_store = :store_id" if by_store else ""
    return text(WORKLIST.format(due_at=DUE_AT, store_filter=store_filter, **plans))


@dataclass(frozen=True, slots=True)
class WorklistCut:
    """What the list is cut by: the tier plans, the plan period and what is due today."""

    care_plans: CarePlans
    care_plan_days: int
    due_within_hours: float


def _hours(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds() // 3600))


def _describe(code: Reason, row: Any, *, now: datetime, plans: CarePlans, plan_days: int) -> str:
    """The sentence of one reason for one row."""
    values: dict[str, Any] = {"plan_days": plan_days, "tier": row["tier"]}
    if code == "new_buyer_no_repeat":
        values["days"] = max(0, (now - row["first_purchase_at"]).days)
    elif row["last_purchase_at"] is not None:
        values["days"] = max(0, (now - row["last_purchase_at"]).days)
    if code == "complaint_overdue":
        values["complaints"] = row["complaints_overdue"]
        values["hours"] = _hours(now - row["complaint_due_at"])
    if code == "commitment_due":
        values["commitments"] = row["commitments_due"]
        due: datetime = row["commitment_due_at"]
        values["when"] = (
            f"overdue by {_hours(now - due)} hours"
            if due < now
            else f"due in {_hours(due - now)} hours"
        )
    if code == "below_care_plan":
        plan = getattr(plans, row["tier"])
        values.update(
            visits=row["visits"], calls=row["calls"], plan_visits=plan.visits, plan_calls=plan.calls
        )
    return REASON_TEXT[code].format(**values)


async def get_worklist(
    *,
    db_session: AsyncSession,
    now: datetime,
    rules: FoldRules,
    currency: str,
    limit: int,
    cut: WorklistCut | None = None,
    store_id: str | None = None,
    reasons: Collection[Reason] | None = None,
) -> Worklist:
    """The `limit` customers to contact first at `now`, each with every reason (only
    `reasons` when given; only customers whose preferred store is `store_id` when given)."""
    cut = cut or WorklistCut(care_plans=CarePlans(), care_plan_days=30, due_within_hours=24.0)
    ranking = await get_current_ranking(db_session=db_session)
    if ranking is not None and ranking.reporting_currency != currency:
        ranking = None  # its thresholds are in another currency: as before the first ranking
    valuable = ranking.clv.valuable_min if ranking is not None and ranking.clv else None
    order = list(REASON_TEXT)
    wanted = set(order if reasons is None else reasons)
    plan_since = (now - timedelta(days=cut.care_plan_days - 1)).date()
    params: dict[str, Any] = {
        "now": now,
        "currency": currency,
        "window_start": now - timedelta(days=rules.window_days),
        "a_min": ranking.abc_a_min_profit if ranking is not None else NO_THRESHOLD,
        "c_max": ranking.abc_c_max_profit if ranking is not None else rules.abc_c_max_profit,
        "valuable_min": Decimal(str(valuable)) if valuable is not None else NO_THRESHOLD,
        "at_risk_before": now - timedelta(days=rules.lifecycle_at_risk_days),
        "lost_before": now - timedelta(days=rules.lifecycle_lost_days),
        "new_since": now - timedelta(days=rules.lifecycle_new_days),
        "nurture_after": now - timedelta(days=NURTURE_AFTER_DAYS),
        "due_before": now + timedelta(hours=cut.due_within_hours),
        "expired_before": now - timedelta(days=rules.commitment_expired_grace_days),
        "plan_since": plan_since,
        "order": order,
        "limit": limit,
        **{f"want_{code}": code in wanted for code in order},
        **get_policy_params(rules.complaint_response_hours),
    }
    for tier in TIERS:
        plan = getattr(cut.care_plans, tier)
        params[f"{tier.lower()}_visits"] = plan.visits
        params[f"{tier.lower()}_calls"] = plan.calls
    if store_id is not None:
        params["store_id"] = store_id
    result = await db_session.execute(get_worklist_query(by_store=store_id is not None), params)
    items = []
    for row in result.mappings():
        codes = [cast(Reason, code) for code in row["reasons"]]
        described = [
            WorkReason(
                code=code,
                text=_describe(
                    code, row, now=now, plans=cut.care_plans, plan_days=cut.care_plan_days
                ),
            )
            for code in codes
        ]
        last = row["last_purchase_at"]
        items.append(
            WorkItem(
                customer_id=row["customer_id"],
                priority=order.index(codes[0]) + 1,
                reason_code=codes[0],
                reason=described[0].text,
                reasons=described,
                tier=row["tier"],
                days_since_purchase=None if last is None else max(0, (now - last).days),
                window_profit=row["window_profit"],
                lifetime_profit=row["lifetime_profit"],
                complaints_overdue=row["complaints_overdue"],
                commitments_due=row["commitments_due"],
                care_visits=row["visits"],
                care_calls=row["calls"],
                care_plan=getattr(cut.care_plans, row["tier"]) if row["tier"] else None,
            )
        )
    return Worklist(
        as_of=now,
        ranking_version=ranking.version if ranking else None,
        store_id=store_id,
        care_plan_days=cut.care_plan_days,
        items=items,
    )

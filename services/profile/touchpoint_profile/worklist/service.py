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
from touchpoint_profile.fold.ranking import BaseRanking
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
_AT_RISK = "last_purchase_at < :at_risk_before AND last_purchase_at >= :lost_before"
REASON_SQL: dict[Reason, str] = {
    "at_risk_a": f"tier = 'A' AND {_AT_RISK}",
    "complaint_overdue": "complaints_overdue > 0",
    "commitment_due": "commitments_due > 0",
    "at_risk_b": f"tier = 'B' AND {_AT_RISK}",
    "lost_most_valuable": "tier IS NOT NULL AND last_purchase_at < :lost_before "
    "AND lifetime_profit >= :valuable_min",
    "below_care_plan": "last_purchase_at >= :lost_before AND NOT CASE tier "
    + " ".join(f"WHEN '{t}' THEN {_PLAN_MET.format(t=t.lower())}" for t in ("A", "B", "C"))
    + " ELSE true END",
    "new_buyer_no_repeat": "tier IS NOT NULL AND lifetime_purchases = 1 "
    "AND first_purchase_at >= :new_since AND first_purchase_at < :nurture_after",
}
"""Each reason's rule over one row of `valued` (below), in REASON_TEXT's order."""
ORDER_BY = """priority,
    CASE priority WHEN 2 THEN complaint_due_at WHEN 3 THEN commitment_due_at END,
    tier, window_profit DESC, lifetime_profit DESC, customer_id"""
"""The list's order: the first reason, then (complaints, commitments) the soonest due, tier
(A first), window profit, profit to date."""
TIER = """CASE
        WHEN v.reporting_currency <> :currency OR v.last_purchase_at IS NULL THEN NULL
        WHEN v.as_of < :window_start THEN 'C'
        WHEN v.window_profit >= :a_min THEN 'A'
        WHEN v.window_profit > :c_max THEN 'B'
        ELSE 'C'
    END"""
"""SQL: the customer's ABC tier by window profit with the ranking's thresholds (None: never
bought, or another reporting currency; window figures folded before the window count none)."""
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
by_value AS (
    SELECT * FROM (
        SELECT *, {priorities} AS priority FROM (
            SELECT v.customer_id, v.window_profit, v.lifetime_profit, v.last_purchase_at,
                v.first_purchase_at, v.lifetime_purchases, v.care_visits, v.care_calls,
                0 AS complaints_overdue, NULL::timestamptz AS complaint_due_at,
                0 AS commitments_due, NULL::timestamptz AS commitment_due_at, {tier} AS tier
            FROM customer_value v {store_where}
            OFFSET 0
        ) valued
        OFFSET 0
    ) prioritised
    WHERE priority IS NOT NULL
    ORDER BY {order_by}
    LIMIT :limit
),
by_care AS (
    SELECT *, {priorities} AS priority FROM (
        SELECT v.customer_id, v.window_profit, v.lifetime_profit, v.last_purchase_at,
            v.first_purchase_at, v.lifetime_purchases, v.care_visits, v.care_calls,
            c.complaints_overdue, c.complaint_due_at, c.commitments_due, c.commitment_due_at,
            v.tier
        FROM care c CROSS JOIN LATERAL (
            SELECT v.*, {tier} AS tier FROM customer_value v
            WHERE v.customer_id = c.customer_id {store_and}
            OFFSET 0
        ) v
    ) valued
),
first AS (
    SELECT * FROM (
        SELECT * FROM by_value WHERE customer_id NOT IN (SELECT customer_id FROM care)
        UNION ALL
        SELECT * FROM by_care
    ) combined
    WHERE priority IS NOT NULL
    ORDER BY {order_by}
    LIMIT :limit
)
SELECT customer_id, tier, window_profit, lifetime_profit, last_purchase_at,
    first_purchase_at, complaints_overdue, complaint_due_at, commitments_due,
    commitment_due_at, array_remove(ARRAY[{codes}], NULL) AS reasons,
    (SELECT count(*) FROM unnest(care_visits) AS d WHERE d >= :plan_since) AS visits,
    (SELECT count(*) FROM unnest(care_calls) AS d WHERE d >= :plan_since) AS calls
FROM first
ORDER BY {order_by}
"""
"""The top `limit` customers by their first reason (one CASE per row that stops at the
first reason that holds) come from two branches: the value rows alone (one scan, a top-N
sort, no join), and the few customers with open care items (the care rows, each joined to its
value row by key). A customer's full key is never after its value-only key (care reasons only
move it up), so the final list is always among those two sets; only the final rows get every
reason spelled out. OFFSET 0 keeps tier and priority computed once per row."""


def get_worklist_query(*, by_store: bool) -> TextClause:
    """The worklist statement, cut to one preferred store or not (two texts, so each keeps
    its own plan: the store cut uses the preferred_store index)."""
    rules = [(place + 1, code, REASON_SQL[code]) for place, code in enumerate(REASON_TEXT)]
    priorities = (
        "CASE "
        + " ".join(f"WHEN :want_{code} AND {sql} THEN {place}" for place, code, sql in rules)
        + " END"
    )
    codes = ", ".join(
        f"CASE WHEN :want_{code} AND {sql} THEN '{code}' END" for _, code, sql in rules
    )
    return text(
        WORKLIST.format(
            due_at=DUE_AT,
            store_where="WHERE v.preferred_store = :store_id" if by_store else "",
            store_and="AND v.preferred_store = :store_id" if by_store else "",
            priorities=priorities,
            codes=codes,
            tier=TIER,
            order_by=ORDER_BY,
        )
    )


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


def get_worklist_params(
    *,
    now: datetime,
    rules: FoldRules,
    currency: str,
    limit: int,
    cut: WorklistCut,
    ranking: BaseRanking | None,
    store_id: str | None,
    reasons: Collection[Reason] | None,
) -> dict[str, Any]:
    """The bound parameters of the worklist statement."""
    valuable = ranking.clv.valuable_min if ranking is not None and ranking.clv else None
    order = list(REASON_TEXT)
    wanted = set(order if reasons is None else reasons)
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
        "plan_since": (now - timedelta(days=cut.care_plan_days - 1)).date(),
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
    return params


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
    order = list(REASON_TEXT)
    params = get_worklist_params(
        now=now,
        rules=rules,
        currency=currency,
        limit=limit,
        cut=cut,
        ranking=ranking,
        store_id=store_id,
        reasons=reasons,
    )
    await db_session.execute(text("SET LOCAL jit = off"))  # compiling cost more than it saved
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

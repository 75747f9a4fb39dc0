"""The worklist in one indexed query over customer_value, cut with the current ranking."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import cast

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint_profile.fold.rules import FoldRules
from touchpoint_profile.ranking.current import get_current_ranking
from touchpoint_profile.worklist.models import REASON_TEXT, Reason, WorkItem, Worklist

NO_THRESHOLD = Decimal("1e15")
"""Before a ranking nobody is A or most valuable."""

WORKLIST = text(
    """
    SELECT customer_id, reason, window_profit, lifetime_profit, last_purchase_at,
           first_purchase_at
    FROM (
        SELECT customer_id, window_profit, lifetime_profit, last_purchase_at, first_purchase_at,
            CASE
                WHEN last_purchase_at < :at_risk_before AND last_purchase_at >= :lost_before
                     AND window_profit >= :a_min THEN 'at_risk_a'
                WHEN last_purchase_at < :at_risk_before AND last_purchase_at >= :lost_before
                     AND window_profit > 0 THEN 'at_risk_b'
                WHEN last_purchase_at < :lost_before AND lifetime_profit >= :valuable_min
                     THEN 'lost_most_valuable'
                WHEN lifetime_purchases = 1 AND first_purchase_at >= :new_since
                     AND first_purchase_at < :nurture_after THEN 'new_buyer_no_repeat'
            END AS reason
        FROM customer_value
        WHERE reporting_currency = :currency AND last_purchase_at IS NOT NULL
    ) candidates
    WHERE reason IS NOT NULL
    ORDER BY array_position(CAST(:order AS text[]), reason), window_profit DESC,
             lifetime_profit DESC, customer_id
    LIMIT :limit
    """
)


async def get_worklist(
    *,
    db_session: AsyncSession,
    now: datetime,
    rules: FoldRules,
    currency: str,
    limit: int,
) -> Worklist:
    """The `limit` customers to contact first at `now`, each with why."""
    ranking = await get_current_ranking(db_session=db_session)
    a_min = ranking.abc_a_min_profit if ranking is not None else NO_THRESHOLD
    valuable = ranking.clv.valuable_min if ranking is not None and ranking.clv else None
    order = list(REASON_TEXT)
    result = await db_session.execute(
        WORKLIST,
        {
            "currency": currency,
            "a_min": a_min,
            "valuable_min": Decimal(str(valuable)) if valuable is not None else NO_THRESHOLD,
            "at_risk_before": now - timedelta(days=rules.lifecycle_at_risk_days),
            "lost_before": now - timedelta(days=rules.lifecycle_lost_days),
            "new_since": now - timedelta(days=rules.lifecycle_new_days),
            "nurture_after": now - timedelta(days=7),
            "order": order,
            "limit": limit,
        },
    )
    items = []
    for row in result.mappings():
        reason = cast(Reason, row["reason"])
        since = row["first_purchase_at"] if reason == "new_buyer_no_repeat" else None
        days = max(0, (now - (since or row["last_purchase_at"])).days)
        items.append(
            WorkItem(
                customer_id=row["customer_id"],
                priority=order.index(reason) + 1,
                reason_code=reason,
                reason=REASON_TEXT[reason].format(days=days),
                days_since_purchase=max(0, (now - row["last_purchase_at"]).days),
                window_profit=row["window_profit"],
                lifetime_profit=row["lifetime_profit"],
            )
        )
    return Worklist(as_of=now, ranking_version=ranking.version if ranking else None, items=items)

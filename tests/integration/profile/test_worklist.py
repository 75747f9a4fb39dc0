"""The worklist on the real database, from states the fold shell wrote: open complaints past
due, promises due today, customers below their tier's care plan, at risk; ordering, reasons,
the store and reason filters, and the columns the fold writes beside the state."""

from __future__ import annotations

import random
import string
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.profile.test_api import serve
from tests.unit.profile.factories import (
    NOW,
    call,
    commitment_fulfilled,
    complaint,
    complaint_step,
    event,
    page_view,
    purchase,
)
from touchpoint_profile.care.plans import CarePlans
from touchpoint_profile.consumer.batch import apply_batch
from touchpoint_profile.fold.events import ParsedEvent
from touchpoint_profile.fold.ranking import BaseRanking
from touchpoint_profile.fold.rules import FoldRules
from touchpoint_profile.projection.postgres import PostgresProjection
from touchpoint_profile.ranking.current import clear_ranking_cache
from touchpoint_profile.ranking.models import Churn, CustomerFigures, RankingRun, TierShare
from touchpoint_profile.ranking.service import create_ranking, get_next_version
from touchpoint_profile.settings import ProfileSettings
from touchpoint_profile.worklist.models import Worklist
from touchpoint_profile.worklist.service import WorklistCut, get_worklist

pytestmark = pytest.mark.integration
HOUR = timedelta(hours=1)
CUT = WorklistCut(care_plans=CarePlans(), care_plan_days=30, due_within_hours=24.0)


def _currency() -> str:
    """A reporting currency of this test alone (the shared database holds other bases)."""
    return "W" + "".join(random.choices(string.ascii_uppercase, k=2))


async def _erase(customer_id: str) -> list[str]:
    return [customer_id]


async def fold(
    sessions: async_sessionmaker[AsyncSession], rules: FoldRules, events: list[ParsedEvent]
) -> None:
    """Fold events through the consumer's shell (states, care columns, value rows)."""
    async with sessions() as session, session.begin():
        await apply_batch(
            store=PostgresProjection(session), events=events, now=NOW, rules=rules, erase=_erase
        )


async def store_ranking(sessions: async_sessionmaker[AsyncSession], currency: str) -> None:
    """A newest ranking in this test's currency: A from 500 of window profit, C at 0."""
    zero = TierShare(customers=0, profit=Decimal(0), customer_share=0.0, profit_share=None)
    async with sessions() as session, session.begin():
        version = await get_next_version(db_session=session)
        ranking = BaseRanking(
            version=version,
            computed_at=NOW,
            customers=10,
            reporting_currency=currency,
            frequency_cuts=(2, 3, 5, 10),
            monetary_cuts=(Decimal(200), Decimal(500), Decimal(1500), Decimal(5000)),
            rfm_top_min=48,
            rfm_bottom_max=7,
            abc_a_min_profit=Decimal(500),
            abc_c_max_profit=Decimal(0),
        )
        figures = CustomerFigures(
            reporting_currency=currency,
            customers=10,
            buyers=10,
            window_buyers=10,
            abc={"A": zero, "B": zero, "C": zero},
            rfm_bands={"top": 0, "middle": 0, "bottom": 0},
            lifecycle={"prospect": 0, "new_buyer": 0, "active": 0, "at_risk": 0, "lost": 0},
            churn=Churn(period_days=30, buyers_at_start=0, became_lost=0, rate=None),
        )
        await create_ranking(
            db_session=session, run=RankingRun(ranking=ranking, figures=figures, duration_s=0.0)
        )
    clear_ranking_cache()


def visit(**kwargs: Any) -> ParsedEvent:
    """A store visit."""
    return event("store_visit", {"zone": "entrance"}, channel="store", **kwargs)


async def worklist(
    sessions: async_sessionmaker[AsyncSession], rules: FoldRules, **kwargs: Any
) -> Worklist:
    """The worklist at NOW."""
    async with sessions() as session:
        return await get_worklist(
            db_session=session,
            now=NOW,
            rules=rules,
            currency=rules.reporting_currency,
            limit=100,
            cut=CUT,
            **kwargs,
        )


async def test_worklist_lists_care_owed_and_plans_by_tier_with_reasons(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Brief, section 5: tiers drive the contact plan (A: visit 3x a month, call 2-3x; B: 2x,
    1-2x; C: 1x, 1x). At NOW: an at-risk A customer comes first; a high complaint opened 30 h
    ago (due after 24 h) is past due; a promise due in 3 h is due today (one due in 3 days is
    not); an A buyer with 3 visits and 1 call is below plan (needs 2 calls); a B buyer with 2
    visits and 1 call meets the plan, one whose only call was dropped does not; a prospect and
    a customer of another store never appear. Every item says why, in words."""
    currency, store = _currency(), f"st-{uuid.uuid4().hex[:6]}"
    rules = FoldRules(reporting_currency=currency, currency_rates={"CNY": Decimal(1)})
    await store_ranking(sessions, currency)
    ids = {name: f"wl-{name}-{uuid.uuid4().hex[:6]}" for name in (
        "at_risk_a", "complaint", "promise", "a_short", "b_ok", "b_dropped", "prospect", "other"
    )}  # fmt: skip

    def at(name: str, **kwargs: Any) -> dict[str, Any]:
        return {"customer_id": ids[name], "store_id": store, **kwargs}

    events = [
        purchase("4000.00", **at("at_risk_a", days_ago=70)),
        complaint("K-1", **at("complaint", at=NOW - 30 * HOUR)),
        call(commitment_id="P-1", due_at=NOW + 3 * HOUR, **at("promise", days_ago=1)),
        call(commitment_id="P-2", due_at=NOW + 72 * HOUR, **at("promise", days_ago=1)),
        purchase("4000.00", **at("a_short", days_ago=2)),
        *[visit(**at("a_short", days_ago=day)) for day in (1, 5, 9)],
        call(**at("a_short", days_ago=3)),
        purchase("400.00", **at("b_ok", days_ago=2)),
        *[visit(**at("b_ok", days_ago=day)) for day in (1, 20)],
        call(**at("b_ok", days_ago=29)),
        purchase("400.00", **at("b_dropped", days_ago=2)),
        *[visit(**at("b_dropped", days_ago=day)) for day in (1, 2)],
        event(
            "call",
            {"duration_seconds": 5, "outcome": "dropped"},
            channel="call_centre",
            **at("b_dropped", days_ago=1),
        ),
        page_view("tents", **at("prospect", days_ago=1)),
        purchase("4000.00", customer_id=ids["other"], store_id="elsewhere", days_ago=70),
    ]
    await fold(sessions, rules, events)

    listed = await worklist(sessions, rules, store_id=store)
    by_id = {item.customer_id: item for item in listed.items}
    assert [item.reason_code for item in listed.items] == [
        "at_risk_a",
        "complaint_overdue",
        "commitment_due",
        "below_care_plan",
        "below_care_plan",
    ]
    assert [item.customer_id for item in listed.items][3:] == [ids["a_short"], ids["b_dropped"]]
    assert ids["b_ok"] not in by_id
    assert ids["prospect"] not in by_id
    assert ids["other"] not in by_id
    slipping = by_id[ids["at_risk_a"]]
    assert slipping.tier == "A"
    assert slipping.days_since_purchase == 70
    assert [reason.code for reason in slipping.reasons] == ["at_risk_a", "below_care_plan"]
    assert "no purchase for 70 days" in slipping.reason
    late = by_id[ids["complaint"]]
    assert late.complaints_overdue == 1
    assert late.tier is None
    assert late.reason == "1 open complaint(s) past due: the oldest was due 6 hours ago"
    promise = by_id[ids["promise"]]
    assert promise.commitments_due == 1
    assert promise.reason == "1 promise(s) to keep today: the first due in 3 hours"
    short = by_id[ids["a_short"]]
    assert (short.tier, short.care_visits, short.care_calls) == ("A", 3, 1)
    assert short.reason == (
        "A customer below the care plan: 3 of 3 visits and 1 of 2 calls in the last 30 days"
    )
    dropped = by_id[ids["b_dropped"]]
    assert (dropped.tier, dropped.care_visits, dropped.care_calls) == ("B", 2, 0)
    assert listed.store_id == store
    assert listed.ranking_version is not None

    only = await worklist(sessions, rules, store_id=store, reasons=["commitment_due"])
    assert [item.customer_id for item in only.items] == [ids["promise"]]
    assert [reason.code for reason in only.items[0].reasons] == ["commitment_due"]


async def test_the_fold_writes_the_care_columns_beside_state_and_value(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The fold shell writes, in the batch transaction: the preferred store and the care
    contact days (newest first, one per contact) in customer_value; the open commitments' due
    times and the resolved complaints (severity, hours to resolve, satisfaction) beside the
    state. A kept promise and a merged-away customer leave nothing behind."""
    currency = _currency()
    rules = FoldRules(reporting_currency=currency)
    cid = f"cols-{uuid.uuid4().hex[:6]}"
    events = [
        visit(customer_id=cid, store_id="s9", days_ago=3),
        call(customer_id=cid, store_id="s9", days_ago=1),
        call(customer_id=cid, days_ago=1, commitment_id="P-9", due_at=NOW + HOUR),
        complaint("K-9", customer_id=cid, at=NOW - 10 * HOUR),
        complaint_step("complaint_resolved", "K-9", customer_id=cid, at=NOW - HOUR),
        complaint_step("complaint_follow_up", "K-9", customer_id=cid, at=NOW, satisfaction=5),
    ]
    await fold(sessions, rules, events)
    async with sessions() as session:
        value = (
            await session.execute(
                text(
                    "SELECT preferred_store, care_calls, care_visits FROM customer_value "
                    "WHERE customer_id = :id"
                ),
                {"id": cid},
            )
        ).one()
        care = (
            await session.execute(
                text(
                    "SELECT open_commitment_due_at, closed_complaint_severity, "
                    "closed_complaint_hours, closed_complaint_satisfaction "
                    "FROM profile_customers WHERE customer_id = :id"
                ),
                {"id": cid},
            )
        ).one()
    day = timedelta(days=1)
    assert value.preferred_store == "s9"
    assert value.care_calls == [(NOW - day).date(), (NOW - day).date()]
    assert value.care_visits == [(NOW - 3 * day).date()]
    assert care.open_commitment_due_at == [NOW + HOUR]
    assert care.closed_complaint_severity == ["high"]
    assert care.closed_complaint_hours == [pytest.approx(9.0)]
    assert care.closed_complaint_satisfaction == [5]
    kept = commitment_fulfilled("P-9", customer_id=cid)
    await fold(sessions, rules, [kept])
    async with sessions() as session:
        due = await session.scalar(
            text("SELECT open_commitment_due_at FROM profile_customers WHERE customer_id = :id"),
            {"id": cid},
        )
    assert due is None


async def test_the_worklist_api_filters_and_names_the_field_it_refuses(
    profile_settings: ProfileSettings,
) -> None:
    """`GET /v1/worklist?store_id=&reason=` answers with the cut it made; a store id with a
    control character or an unknown reason is a 422 naming the query field, never a 500."""
    settings = profile_settings.model_copy(update={"consumer_enabled": False})
    async with serve(settings) as client:
        response = await client.get(
            "/v1/worklist",
            params={"store_id": "no-such-store", "reason": ["complaint_overdue", "at_risk_a"]},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["store_id"], body["items"], body["care_plan_days"]) == (
            "no-such-store",
            [],
            30,
        )
        for params in ({"store_id": "s\x00"}, {"reason": "everyone"}):
            refused = await client.get("/v1/worklist", params=params)
            assert refused.status_code == 422, refused.text
            assert refused.json()["detail"][0]["loc"][:2] == ["query", next(iter(params))]

"""The ranking job on a synthetic base with known profits, on the real PostgreSQL and Kafka."""

from __future__ import annotations

import random
import string
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer
from asgi_lifespan import LifespanManager
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.keys import bearer, create_token
from tests.integration.profile.conftest import make_profile_settings
from touchpoint_common.access.models import Scope
from touchpoint_common.db.engine import create_engine, create_session_factory
from touchpoint_common.kafka.admin import create_topics
from touchpoint_common.kafka.configuration import get_consumer_config
from touchpoint_common.kafka.producer import create_producer
from touchpoint_common.kafka.publisher import Publisher
from touchpoint_common.settings import CommonSettings
from touchpoint_profile.fold.rules import FoldRules
from touchpoint_profile.main import create_app
from touchpoint_profile.ranking.current import clear_ranking_cache
from touchpoint_profile.ranking.models import LifecycleCount
from touchpoint_profile.ranking.service import run_ranking
from touchpoint_profile.read import get_current_ranking
from touchpoint_profile.settings import ProfileSettings
from touchpoint_profile.worklist.service import get_worklist

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
BUYERS = 2000
ZERO_PROFIT = 200
"""Window buyers whose purchases brought no profit (C: the texts' ~10% who bring none)."""
PROSPECTS = 150
LOST_THIS_PERIOD = 40

INSERT = text(
    """
    INSERT INTO customer_value (customer_id, reporting_currency, as_of, window_frequency,
        window_monetary, window_profit, lifetime_purchases, lifetime_monetary, lifetime_profit,
        first_seen_at, first_purchase_at, last_purchase_at)
    VALUES (:customer_id, :currency, :as_of, :frequency, :monetary, :profit, :purchases,
        :lifetime_monetary, :lifetime_profit, :first_seen_at, :first_purchase_at,
        :last_purchase_at)
    """
)


def _row(currency: str, index: int, **values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "customer_id": f"rank-{currency}-{index}",
        "currency": currency,
        "as_of": NOW - timedelta(days=1),
        "frequency": 0,
        "monetary": Decimal(0),
        "profit": Decimal(0),
        "purchases": 0,
        "lifetime_monetary": Decimal(0),
        "lifetime_profit": Decimal(0),
        "first_seen_at": NOW - timedelta(days=400),
        "first_purchase_at": None,
        "last_purchase_at": None,
    }
    base.update(values)
    return base


def synthetic_base(currency: str) -> list[dict[str, Any]]:
    """BUYERS with Zipf profits (the i-th brings 1/i of the first's: on 2,000 buyers the top
    19.5% bring 80%, an 80/20 curve), ZERO_PROFIT window buyers bringing none, PROSPECTS who
    never bought (seen long ago and recently), LOST_THIS_PERIOD buyers who crossed the lost
    threshold in the last 30 days; distinct window spend so M quintiles can be exact."""
    rng = random.Random(13)
    rows = []
    for index in range(BUYERS + ZERO_PROFIT):
        profit = (
            Decimal(0) if index >= BUYERS else Decimal(str(round(10 * BUYERS / (index + 1), 2)))
        )
        frequency = rng.randint(1, 12)
        first = NOW - timedelta(days=rng.randint(100, 700))
        last = NOW - timedelta(days=rng.randint(0, 89), hours=1)
        purchases = frequency + rng.randint(0, 20)
        rows.append(
            _row(
                currency,
                index,
                frequency=frequency,
                monetary=(Decimal(index + 1) * 100 + profit / 1000).quantize(Decimal("0.01")),
                profit=profit,
                purchases=purchases,
                lifetime_monetary=profit * 3 + 10,
                lifetime_profit=profit * 2 + Decimal(rng.randint(0, 50)),
                first_purchase_at=first,
                last_purchase_at=last,
            )
        )
    offset = len(rows)
    for index in range(PROSPECTS):
        rows.append(_row(currency, offset + index, first_seen_at=NOW - timedelta(days=index * 3)))
    offset = len(rows)
    for index in range(LOST_THIS_PERIOD):
        last = NOW - timedelta(days=125 + index % 25)  # lost (120 days) within the last 30
        rows.append(
            _row(
                currency,
                offset + index,
                as_of=last,
                frequency=1,
                purchases=2,
                lifetime_profit=Decimal(5),
                first_purchase_at=last - timedelta(days=200),
                last_purchase_at=last,
            )
        )
    return rows


@pytest_asyncio.fixture
async def ranking_settings(settings: CommonSettings) -> ProfileSettings:
    """Profile settings with this test's own rankings topic and reporting currency (so the
    shared session database's other customer_value rows stay out of this base)."""
    currency = "CNY"
    while currency in ("CNY", "XTS"):  # the other tests' currency, and the access matrix's
        currency = "".join(random.choices(string.ascii_uppercase, k=3))
    configured = make_profile_settings(
        settings,
        topic_rankings=f"touchpoint.rankings.v1.test-{uuid.uuid4().hex[:8]}",
        profile_rules=FoldRules(reporting_currency=currency),
        ranking_clv_sample=100_000,
    )
    await create_topics(configured)
    return configured


@pytest_asyncio.fixture
async def ranking_sessions(
    ranking_settings: ProfileSettings,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the session database, with the synthetic base inserted."""
    engine = create_engine(ranking_settings)
    sessions = create_session_factory(engine)
    async with sessions() as db_session, db_session.begin():
        await db_session.execute(
            INSERT, synthetic_base(ranking_settings.profile_rules.reporting_currency)
        )
    yield sessions
    await engine.dispose()


@pytest_asyncio.fixture
async def publisher(ranking_settings: ProfileSettings) -> AsyncIterator[Publisher]:
    """The one Publisher over a real producer."""
    producer = create_producer(ranking_settings)
    await producer.start()
    yield Publisher(producer)
    await producer.stop()


async def read_published(settings: ProfileSettings) -> list[dict[str, Any]]:
    """Every record on the test's rankings topic."""
    consumer = AIOKafkaConsumer(
        settings.topic_rankings, **get_consumer_config(settings, group_id=None)
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=5000)
        return [orjson.loads(r.value) for records in batches.values() for r in records if r.value]
    finally:
        await consumer.stop()


async def test_ranking_of_a_pareto_base(
    ranking_settings: ProfileSettings,
    ranking_sessions: async_sessionmaker[AsyncSession],
    publisher: Publisher,
) -> None:
    """Brief: A = the customers bringing ~80% of profit (here between 80% and 81%: A covers the
    first 80% and the last A customer adds under 1%), about 20% of buyers on an 80/20 curve
    (15-25%); C = those bringing none (the 200 zero-profit buyers and the 40 lost ones); M
    quintiles of exactly 20% each (distinct spend); R x F x M top and bottom bands 20% +- 5
    points (a product value is never split); prospects are never at risk or lost; churn =
    the 40 lost this period / buyers at its start; stored, published on Kafka, read back by
    `get_current_ranking` (what the view evaluates with)."""
    result = await run_ranking(
        sessions=ranking_sessions, publisher=publisher, settings=ranking_settings, now=NOW
    )
    assert result.run is not None, result.reason
    assert result.published is True
    ranking, figures = result.run.ranking, result.run.figures

    a, b, c = figures.abc["A"], figures.abc["B"], figures.abc["C"]
    assert a.profit_share is not None
    assert 0.80 <= a.profit_share < 0.81
    assert 0.15 <= a.customers / BUYERS <= 0.25
    assert c.customers == ZERO_PROFIT + LOST_THIS_PERIOD
    assert a.customers + b.customers + c.customers == figures.buyers
    assert figures.buyers == BUYERS + ZERO_PROFIT + LOST_THIS_PERIOD

    rows = synthetic_base(ranking_settings.profile_rules.reporting_currency)
    window_start = NOW - timedelta(days=ranking_settings.profile_rules.window_days)
    window = [row for row in rows if row["frequency"] > 0 and row["as_of"] >= window_start]
    m_scores = Counter(
        1 + sum(row["monetary"] >= cut for cut in ranking.monetary_cuts) for row in window
    )
    assert set(m_scores.values()) == {len(window) // 5}
    assert figures.window_buyers == len(window)
    for band in ("top", "bottom"):
        assert 0.15 <= figures.rfm_bands[band] / len(window) <= 0.25, figures.rfm_bands
    assert sum(figures.rfm_bands.values()) == len(window)

    assert figures.lifecycle["prospect"] == PROSPECTS
    assert figures.lifecycle["lost"] == LOST_THIS_PERIOD
    at_risk_before = NOW - timedelta(days=ranking_settings.profile_rules.lifecycle_at_risk_days)
    slipping = [
        row
        for row in rows
        if row["last_purchase_at"] is not None
        and NOW - timedelta(days=120) <= row["last_purchase_at"] < at_risk_before
    ]
    assert figures.lifecycle["at_risk"] == len(slipping)
    buyer_stages: tuple[LifecycleCount, ...] = ("new_buyer", "active", "at_risk", "lost")
    assert sum(figures.lifecycle[stage] for stage in buyer_stages) == figures.buyers
    assert figures.churn.became_lost == LOST_THIS_PERIOD
    assert figures.churn.rate == pytest.approx(LOST_THIS_PERIOD / figures.churn.buyers_at_start)

    assert ranking.clv is not None
    assert ranking.clv.sample_size > 0

    published = await read_published(ranking_settings)
    assert [record["ranking"]["version"] for record in published] == [ranking.version]
    assert published[0]["figures"]["abc"]["A"]["customers"] == a.customers

    clear_ranking_cache()
    async with ranking_sessions() as db_session:
        current = await get_current_ranking(db_session=db_session)
    assert current == ranking


async def test_one_replica_at_a_time(
    ranking_settings: ProfileSettings,
    ranking_sessions: async_sessionmaker[AsyncSession],
) -> None:
    """While one run holds the advisory lock another skips, saying why; a scheduled check
    right after a run skips as the newest ranking is fresh."""
    async with ranking_sessions() as holder, holder.begin():
        await holder.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": 0x7470_7261_6E6B})
        skipped = await run_ranking(
            sessions=ranking_sessions, publisher=None, settings=ranking_settings, now=NOW
        )
    assert skipped.run is None
    assert skipped.reason is not None
    assert "another replica" in skipped.reason
    first = await run_ranking(
        sessions=ranking_sessions, publisher=None, settings=ranking_settings, now=NOW
    )
    assert first.run is not None
    again = await run_ranking(
        sessions=ranking_sessions,
        publisher=None,
        settings=ranking_settings,
        now=NOW + timedelta(minutes=5),
        due_after_s=3600,
    )
    assert again.run is None
    assert again.reason == "the newest ranking is recent enough"


async def test_run_on_demand_then_read_the_figures(
    ranking_settings: ProfileSettings,
    ranking_sessions: async_sessionmaker[AsyncSession],
) -> None:
    """`POST /v1/admin/rankings/run` (admin) runs and publishes the job; `GET
    /v1/figures/customers` (figures:read) answers that version's ABC shares, lifecycle counts
    and churn; the gauges on /metrics carry the same version and A's profit share."""
    settings = ranking_settings.model_copy(
        update={"consumer_enabled": False, "ranking_interval_s": 0}
    )
    admin = bearer(await create_token(settings.database_url, [Scope.ADMIN]))
    reader = bearer(await create_token(settings.database_url, [Scope.FIGURES_READ]))
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://profile") as client:
            ran = await client.post("/v1/admin/rankings/run", headers=admin)
            assert ran.status_code == 200, ran.text
            body = ran.json()
            assert body["ran"] is True
            assert body["published"] is True
            version = body["ranking"]["version"]
            figures = await client.get("/v1/figures/customers", headers=reader)
            assert figures.status_code == 200, figures.text
            read = figures.json()
            metrics = (await client.get("/metrics")).text
    assert read["ranking_version"] == version
    assert read["lifecycle"]["prospect"] == PROSPECTS
    assert 0.80 <= read["abc"]["A"]["profit_share"] < 0.81
    assert read["churn"]["became_lost"] == LOST_THIS_PERIOD
    assert f"touchpoint_ranking_version {float(version)}" in metrics
    assert 'touchpoint_abc_profit_share{tier="A"} 0.80' in metrics


async def test_worklist_puts_at_risk_a_customers_first(
    ranking_settings: ProfileSettings,
    ranking_sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Brief: warn early when a valuable customer slips. With the ranking cut, the worklist
    lists the at-risk A customers (no purchase for 60-120 days, window profit in A) first,
    by profit, then at-risk B; every item says why; prospects never appear."""
    result = await run_ranking(
        sessions=ranking_sessions, publisher=None, settings=ranking_settings, now=NOW
    )
    assert result.run is not None
    clear_ranking_cache()
    async with ranking_sessions() as db_session:
        worklist = await get_worklist(
            db_session=db_session,
            now=NOW,
            rules=ranking_settings.profile_rules,
            currency=ranking_settings.profile_rules.reporting_currency,
            limit=500,
            reasons=("at_risk_a", "at_risk_b"),
        )
    assert worklist.ranking_version == result.run.ranking.version
    codes = [item.reason_code for item in worklist.items]
    assert codes[0] == "at_risk_a"
    assert codes == sorted(codes, key=lambda code: ["at_risk_a", "at_risk_b"].index(code))
    a_min = result.run.ranking.abc_a_min_profit
    for item in worklist.items:
        assert item.days_since_purchase is not None
        assert 60 <= item.days_since_purchase <= 120
        assert (item.window_profit >= a_min) == (item.reason_code == "at_risk_a")
        assert str(item.days_since_purchase) in item.reason
    first_a = [item.window_profit for item in worklist.items if item.reason_code == "at_risk_a"]
    assert first_a == sorted(first_a, reverse=True)

"""The ranking job: cut points over `customer_value` in SQL, stored, published, cached for reads.

Every per-customer step runs in PostgreSQL (aggregates, window functions, a random sample for
the CLV fit); Python sees histograms of at most a few hundred rows and the sample. One replica
at a time runs it (a transaction-scoped advisory lock); the others skip.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import orjson
from sqlalchemy import insert, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from touchpoint_common.db.errors import get_sqlstate
from touchpoint_common.kafka.publisher import OutgoingRecord, Publisher
from touchpoint_profile.care.overdue import get_policy_params, get_response_seconds_sql
from touchpoint_profile.fold import clv
from touchpoint_profile.fold.ranking import BaseRanking, ClvParams
from touchpoint_profile.ranking.current import clear_ranking_cache
from touchpoint_profile.ranking.cuts import get_bands, get_quintile_cuts, get_rising
from touchpoint_profile.ranking.metrics import set_figures
from touchpoint_profile.ranking.models import (
    Churn,
    ComplaintFigures,
    CustomerFigures,
    RankingHeaders,
    RankingRecord,
    RankingRun,
    TierShare,
    rankings,
)
from touchpoint_profile.settings import ProfileSettings

logger = logging.getLogger(__name__)

RANKING_LOCK_KEY = 0x7470_7261_6E6B  # "tprank": one ranking job at a time across replicas
A_PROFIT_SHARE = Decimal("0.8")
"""A: the customers who bring the first ~80% of profit (brief, ABC / Pareto)."""
"""Fewer buyers than quintiles: no ranking (the views keep the fold rules' defaults)."""
MIN_CLV_REPEATERS = 20
"""Fewer repeat buyers than this in the sample: no CLV fit."""
EVENT_TYPE = b"base_ranking"
UNIQUE_VIOLATION = "23505"


class NothingToRank(Exception):
    """Too few buyers in the base for quintiles."""


@dataclass(frozen=True, slots=True)
class Moment:
    """The instants the job's SQL compares dates with."""

    now: datetime
    window_start: datetime
    period_start: datetime
    new_since: datetime
    at_risk_before: datetime
    lost_before: datetime
    lost_before_at_start: datetime

    @classmethod
    def of(cls, now: datetime, settings: ProfileSettings) -> Moment:
        """The instants for a run at `now` under the settings' rules."""
        rules = settings.profile_rules
        period = timedelta(days=settings.ranking_churn_period_days)
        lost = timedelta(days=rules.lifecycle_lost_days)
        return cls(
            now=now,
            window_start=now - timedelta(days=rules.window_days),
            period_start=now - period,
            new_since=now - timedelta(days=rules.lifecycle_new_days),
            at_risk_before=now - timedelta(days=rules.lifecycle_at_risk_days),
            lost_before=now - lost,
            lost_before_at_start=now - period - lost,
        )


# The queries share the `{base}` rows (and `{scores}`): constant text, every value a bound
# parameter. Window figures are as of each customer's last folded event: one older than the
# window has bought nothing in the current window.
BASE = """
    SELECT
        CASE WHEN as_of >= :window_start THEN window_frequency ELSE 0 END AS frequency,
        CASE WHEN as_of >= :window_start THEN window_monetary ELSE 0 END AS monetary,
        CASE WHEN as_of >= :window_start THEN window_profit ELSE 0 END AS profit,
        lifetime_purchases, lifetime_profit, first_purchase_at, last_purchase_at
    FROM customer_value
    WHERE reporting_currency = :currency
"""
FREQUENCY_HISTOGRAM = """
    SELECT frequency, count(*) FROM ({base}) base WHERE frequency > 0 GROUP BY frequency
"""
MONETARY_QUINTILES = """
    SELECT quintile, min(monetary) FROM (
        SELECT monetary, ntile(5) OVER (ORDER BY monetary) AS quintile
        FROM ({base}) base WHERE frequency > 0
    ) ranked GROUP BY quintile ORDER BY quintile
"""
A_MIN_PROFIT = """
    SELECT min(profit) FROM (
        SELECT profit,
               sum(profit) OVER (ORDER BY profit DESC ROWS UNBOUNDED PRECEDING) - profit AS before,
               sum(profit) OVER () AS total
        FROM ({base}) base WHERE profit > 0
    ) running WHERE before < :a_share * total
"""
SCORES = """
    SELECT
        CASE
            WHEN last_purchase_at IS NULL THEN 1
            WHEN last_purchase_at > :r5_after THEN 5
            WHEN last_purchase_at > :r4_after THEN 4
            WHEN last_purchase_at > :r3_after THEN 3
            WHEN last_purchase_at > :r2_after THEN 2
            ELSE 1
        END
        * (1 + (frequency >= :f1)::int + (frequency >= :f2)::int + (frequency >= :f3)::int
             + (frequency >= :f4)::int)
        * (1 + (monetary >= :m1)::int + (monetary >= :m2)::int + (monetary >= :m3)::int
             + (monetary >= :m4)::int) AS product
    FROM ({base}) base WHERE frequency > 0
"""
PRODUCT_HISTOGRAM = "SELECT product, count(*) FROM ({scores}) scored GROUP BY product"
FIGURES = """
    SELECT
        count(*) AS customers,
        count(*) FILTER (WHERE last_purchase_at IS NOT NULL) AS buyers,
        count(*) FILTER (WHERE frequency > 0) AS window_buyers,
        count(*) FILTER (WHERE last_purchase_at IS NOT NULL AND profit >= :a_min) AS a_customers,
        coalesce(sum(profit) FILTER (WHERE last_purchase_at IS NOT NULL AND profit >= :a_min), 0),
        count(*) FILTER (WHERE last_purchase_at IS NOT NULL AND profit > 0 AND profit < :a_min),
        coalesce(sum(profit) FILTER (WHERE profit > 0 AND profit < :a_min), 0),
        count(*) FILTER (WHERE last_purchase_at IS NOT NULL AND profit <= 0) AS c_customers,
        coalesce(sum(profit) FILTER (WHERE last_purchase_at IS NOT NULL AND profit <= 0), 0),
        count(*) FILTER (WHERE last_purchase_at IS NULL) AS prospects,
        count(*) FILTER (WHERE last_purchase_at >= :at_risk_before
                         AND first_purchase_at >= :new_since) AS new_buyers,
        count(*) FILTER (WHERE last_purchase_at >= :at_risk_before
                         AND first_purchase_at < :new_since) AS active,
        count(*) FILTER (WHERE last_purchase_at < :at_risk_before
                         AND last_purchase_at >= :lost_before) AS at_risk,
        count(*) FILTER (WHERE last_purchase_at < :lost_before) AS lost,
        count(*) FILTER (WHERE first_purchase_at < :period_start
                         AND last_purchase_at >= :lost_before_at_start) AS buyers_at_start,
        count(*) FILTER (WHERE first_purchase_at < :period_start
                         AND last_purchase_at >= :lost_before_at_start
                         AND last_purchase_at < :lost_before) AS became_lost
    FROM ({base}) base
"""
BAND_COUNTS = """
    SELECT count(*) FILTER (WHERE product >= :top_min),
           count(*) FILTER (WHERE product > :bottom_max AND product < :top_min),
           count(*) FILTER (WHERE product <= :bottom_max)
    FROM ({scores}) scored
"""
COMPLAINT_FIGURES = """
    SELECT count(*),
        avg(c.hours),
        percentile_cont(0.5) WITHIN GROUP (ORDER BY c.hours),
        percentile_cont(0.9) WITHIN GROUP (ORDER BY c.hours),
        count(c.hours),
        count(*) FILTER (WHERE c.hours * 3600 <= {response_seconds}),
        count(c.satisfaction),
        avg(c.satisfaction),
        count(*) FILTER (WHERE c.satisfaction >= 4)
    FROM profile_customers AS p,
        unnest(p.closed_complaint_severity, p.closed_complaint_resolved_at,
               p.closed_complaint_hours, p.closed_complaint_satisfaction)
            AS c(severity, resolved_at, hours, satisfaction)
    WHERE p.closed_complaint_resolved_at IS NOT NULL AND NOT p.erased
      AND c.resolved_at >= :period_start AND c.resolved_at <= :now
""".replace("{response_seconds}", get_response_seconds_sql("c"))
"""The resolved complaints beside the states (migration 0015; a partial index keeps the scan
to the customers who have any), resolved in the period."""
CLV_SAMPLE = """
    SELECT lifetime_purchases,
           extract(epoch FROM last_purchase_at - first_purchase_at) / 86400.0,
           extract(epoch FROM CAST(:now AS timestamptz) - first_purchase_at) / 86400.0,
           lifetime_profit / lifetime_purchases,
           lifetime_profit
    FROM ({base} AND random() < :fraction) base
    WHERE first_purchase_at IS NOT NULL AND lifetime_purchases > 0
      AND first_purchase_at <= CAST(:now AS timestamptz)
"""


def _compose(sql: str) -> str:
    """A query with its shared fragments put in."""
    return sql.replace("{scores}", SCORES).replace("{base}", BASE)


async def _rows(db_session: AsyncSession, sql: str, **params: Any) -> list[Any]:
    result = await db_session.execute(text(_compose(sql)), params)
    return list(result.all())


def _share(part: Decimal | int, whole: Decimal | int) -> float | None:
    return float(part) / float(whole) if whole else None


async def compute_ranking(
    *, db_session: AsyncSession, now: datetime, version: int, settings: ProfileSettings
) -> tuple[BaseRanking, CustomerFigures]:
    """The ranking and figures of the base at `now`; raises NothingToRank for a tiny base."""
    moment = Moment.of(now, settings)
    base: dict[str, Any] = {
        "currency": settings.profile_rules.reporting_currency,
        "window_start": moment.window_start,
    }
    frequency_histogram = await _rows(db_session, FREQUENCY_HISTOGRAM, **base)
    window_buyers = sum(count for _, count in frequency_histogram)
    if window_buyers < settings.ranking_min_window_buyers:
        raise NothingToRank(
            f"{window_buyers} buyers in the window, need {settings.ranking_min_window_buyers}"
        )
    frequency_cuts = get_quintile_cuts([(int(v), int(n)) for v, n in frequency_histogram])
    quintiles = await _rows(db_session, MONETARY_QUINTILES, **base)
    monetary_cuts = get_rising([Decimal(low) for _, low in quintiles[1:]])
    a_min = (await _rows(db_session, A_MIN_PROFIT, a_share=A_PROFIT_SHARE, **base))[0][0]
    a_min_profit = Decimal(a_min) if a_min is not None else Decimal("0.01")
    # R by whole days since the last purchase, as the fold counts them: <= bound scores.
    recency = zip((5, 4, 3, 2), settings.profile_rules.recency_bounds, strict=True)
    scoring = {
        **base,
        **{f"r{score}_after": now - timedelta(days=bound + 1) for score, bound in recency},
        **{f"f{i + 1}": cut for i, cut in enumerate(frequency_cuts)},
        **{f"m{i + 1}": cut for i, cut in enumerate(monetary_cuts)},
    }
    products = await _rows(db_session, PRODUCT_HISTOGRAM, **scoring)
    bands = get_bands([(int(v), int(n)) for v, n in products])
    top, middle, bottom = (
        await _rows(
            db_session,
            BAND_COUNTS,
            top_min=bands.top_min,
            bottom_max=bands.bottom_max,
            **scoring,
        )
    )[0]
    figures = await _get_figures(
        db_session=db_session, moment=moment, a_min=a_min_profit, base=base, settings=settings
    )
    figures = figures.model_copy(
        update={
            "rfm_bands": {"top": top, "middle": middle, "bottom": bottom},
            "complaints": await get_complaint_figures(
                db_session=db_session, moment=moment, settings=settings
            ),
        }
    )
    fit = await get_clv_params(
        db_session=db_session, moment=moment, base=base, buyers=figures.buyers, settings=settings
    )
    ranking = BaseRanking(
        version=version,
        computed_at=now,
        customers=figures.buyers,
        reporting_currency=settings.profile_rules.reporting_currency,
        frequency_cuts=frequency_cuts,
        monetary_cuts=(monetary_cuts[0], monetary_cuts[1], monetary_cuts[2], monetary_cuts[3]),
        rfm_top_min=bands.top_min,
        rfm_bottom_max=bands.bottom_max,
        abc_a_min_profit=a_min_profit,
        abc_c_max_profit=Decimal(0),
        clv=fit,
    )
    return ranking, figures


async def _get_figures(
    *,
    db_session: AsyncSession,
    moment: Moment,
    a_min: Decimal,
    base: dict[str, Any],
    settings: ProfileSettings,
) -> CustomerFigures:
    """ABC shares, lifecycle counts and churn in one scan."""
    instants = {
        name: getattr(moment, name)
        for name in (
            "period_start",
            "new_since",
            "at_risk_before",
            "lost_before",
            "lost_before_at_start",
        )
    }
    row = (await _rows(db_session, FIGURES, a_min=a_min, **instants, **base))[0]
    (customers, buyers, window_buyers, a_n, a_p, b_n, b_p, c_n, c_p) = row[:9]
    prospects, new_buyers, active, at_risk, lost, at_start, became_lost = row[9:]
    total_profit = Decimal(a_p) + Decimal(b_p) + Decimal(c_p)

    def tier(count: int, profit: Decimal) -> TierShare:
        return TierShare(
            customers=count,
            profit=Decimal(profit),
            customer_share=_share(count, buyers) or 0.0,
            profit_share=_share(Decimal(profit), total_profit) if total_profit > 0 else None,
        )

    return CustomerFigures(
        reporting_currency=settings.profile_rules.reporting_currency,
        customers=customers,
        buyers=buyers,
        window_buyers=window_buyers,
        abc={"A": tier(a_n, a_p), "B": tier(b_n, b_p), "C": tier(c_n, c_p)},
        rfm_bands={"top": 0, "middle": 0, "bottom": 0},
        lifecycle={
            "prospect": prospects,
            "new_buyer": new_buyers,
            "active": active,
            "at_risk": at_risk,
            "lost": lost,
        },
        churn=Churn(
            period_days=settings.ranking_churn_period_days,
            buyers_at_start=at_start,
            became_lost=became_lost,
            rate=_share(became_lost, at_start),
        ),
    )


async def get_complaint_figures(
    *, db_session: AsyncSession, moment: Moment, settings: ProfileSettings
) -> ComplaintFigures:
    """Time to resolve and satisfaction after follow-up of the complaints resolved in the
    period (the churn period), in one scan of the resolved-complaint clocks."""
    policy = get_policy_params(settings.profile_rules.complaint_response_hours)
    row = (
        await _rows(
            db_session,
            COMPLAINT_FIGURES,
            period_start=moment.period_start,
            now=moment.now,
            **policy,
        )
    )[0]
    resolved, mean, median, p90, timed, on_time, followed_up, satisfaction, satisfied = row

    def rounded(value: Any) -> float | None:
        return None if value is None else round(float(value), 2)

    return ComplaintFigures(
        period_days=settings.ranking_churn_period_days,
        resolved=resolved,
        hours_to_resolve_mean=rounded(mean),
        hours_to_resolve_median=rounded(median),
        hours_to_resolve_p90=rounded(p90),
        resolved_on_time_share=_share(on_time, timed),
        followed_up=followed_up,
        satisfaction_mean=rounded(satisfaction),
        satisfied_share=_share(satisfied, followed_up),
    )


async def get_clv_params(
    *,
    db_session: AsyncSession,
    moment: Moment,
    base: dict[str, Any],
    buyers: int,
    settings: ProfileSettings,
) -> ClvParams | None:
    """BG/NBD + Gamma-Gamma fitted (in days) on a random sample of buyers; None: too few."""
    fraction = min(1.0, settings.ranking_clv_sample / buyers) if buyers else 1.0
    rows = await _rows(db_session, CLV_SAMPLE, now=moment.now, fraction=fraction, **base)
    if sum(1 for row in rows if row[0] > 1) < MIN_CLV_REPEATERS:
        return None
    sample = np.array([[float(value) for value in row] for row in rows], dtype=np.float64)
    return await asyncio.to_thread(fit_clv, sample)


def fit_clv(sample: np.ndarray[Any, np.dtype[np.float64]]) -> ClvParams:
    """Fit both models on rows (purchases, t_x days, T days, profit per purchase, profit)."""
    purchases, t_x, age, per_purchase, historic = sample.T
    repeats = purchases - 1
    bgnbd = clv.fit_bgnbd(repeats, t_x, age)
    spend = clv.fit_gamma_gamma(purchases, per_purchase)
    horizon = 365
    predicted = clv.get_predicted_value(
        bgnbd, spend, horizon=horizon, x=repeats, t_x=t_x, T=age, m=per_purchase
    )
    return ClvParams(
        r=bgnbd.r,
        alpha=bgnbd.alpha,
        a=bgnbd.a,
        b=bgnbd.b,
        p=spend.p,
        q=spend.q,
        v=spend.v,
        horizon_days=horizon,
        valuable_min=clv.get_top_cut(historic),
        growable_min=clv.get_top_cut(predicted[np.isfinite(predicted)]),
        sample_size=len(sample),
    )


async def get_next_version(*, db_session: AsyncSession) -> int:
    """One more than the newest stored version (called under the job's lock)."""
    result = await db_session.execute(text("SELECT coalesce(max(version), 0) + 1 FROM rankings"))
    return int(result.scalar_one())


async def get_latest_run(*, db_session: AsyncSession) -> RankingRun | None:
    """The newest stored run, or None before the first."""
    result = await db_session.execute(
        select(rankings.c.ranking, rankings.c.figures, rankings.c.duration_s)
        .order_by(rankings.c.version.desc())
        .limit(1)
    )
    row = result.first()
    if row is None:
        return None
    return RankingRun(
        ranking=BaseRanking.model_validate(row.ranking),
        figures=CustomerFigures.model_validate(row.figures),
        duration_s=row.duration_s,
    )


async def create_ranking(*, db_session: AsyncSession, run: RankingRun) -> None:
    """Store a run as the newest version."""
    await db_session.execute(
        insert(rankings).values(
            version=run.ranking.version,
            computed_at=run.ranking.computed_at,
            ranking=run.ranking.model_dump(mode="json"),
            figures=run.figures.model_dump(mode="json"),
            duration_s=run.duration_s,
        )
    )


def get_ranking_record(run: RankingRun, *, topic: str) -> OutgoingRecord:
    """The run as its Kafka record (compacted topic: one key, the newest value stays)."""
    value = RankingRecord(ranking=run.ranking, figures=run.figures).model_dump(mode="json")
    headers = RankingHeaders(version=str(run.ranking.version)).model_dump(mode="json")
    return OutgoingRecord(
        topic=topic,
        key=EVENT_TYPE,
        value=orjson.dumps(value),
        headers=tuple((name, str(text).encode()) for name, text in headers.items()),
    )


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one attempt did: the stored run, or why nothing ran."""

    run: RankingRun | None
    reason: str | None = None
    published: bool | None = None


async def run_ranking(
    *,
    sessions: async_sessionmaker[AsyncSession],
    publisher: Publisher | None,
    settings: ProfileSettings,
    now: datetime,
    due_after_s: float | None = None,
) -> RunResult:
    """Compute, store and publish a ranking unless another replica holds the lock, or (with
    `due_after_s`) the newest ranking is younger than that."""
    try:
        stored = await _compute_and_store(
            sessions=sessions, settings=settings, now=now, due_after_s=due_after_s
        )
    except SQLAlchemyError as exc:
        # The snapshot begins with the lock query: a replica that committed in between is
        # unseen, and its version number comes up again. It ranked the same base: skip.
        if get_sqlstate(exc) != UNIQUE_VIOLATION:
            raise
        return RunResult(run=None, reason="another replica stored this version first")
    if stored.run is None:
        return stored
    run = stored.run
    version = run.ranking.version
    clear_ranking_cache()
    set_figures(run)
    logger.info(
        "ranking computed",
        extra={"version": version, "buyers": run.figures.buyers, "duration_s": run.duration_s},
    )
    published = None
    if publisher is not None:
        record = get_ranking_record(run, topic=settings.topic_rankings)
        acked = await publisher.publish([record], timeout_s=settings.ranking_publish_timeout_s)
        published = all(acked)
        if not published:
            logger.error("ranking not published in time", extra={"version": version})
    return RunResult(run=run, published=published)


async def _compute_and_store(
    *,
    sessions: async_sessionmaker[AsyncSession],
    settings: ProfileSettings,
    now: datetime,
    due_after_s: float | None,
) -> RunResult:
    """The job's one transaction: lock, check, compute, store."""
    started = time.perf_counter()
    async with sessions() as db_session, db_session.begin():
        await db_session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        locked = await db_session.execute(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": RANKING_LOCK_KEY}
        )
        if not locked.scalar_one():
            return RunResult(run=None, reason="another replica is running the ranking job")
        if due_after_s is not None:
            latest = await db_session.execute(text("SELECT max(computed_at) FROM rankings"))
            newest = latest.scalar_one()
            if newest is not None and (now - newest).total_seconds() < due_after_s:
                return RunResult(run=None, reason="the newest ranking is recent enough")
        version = await get_next_version(db_session=db_session)
        try:
            ranking, figures = await compute_ranking(
                db_session=db_session, now=now, version=version, settings=settings
            )
        except NothingToRank as exc:
            return RunResult(run=None, reason=str(exc))
        run = RankingRun(ranking=ranking, figures=figures, duration_s=time.perf_counter() - started)
        await create_ranking(db_session=db_session, run=run)
    return RunResult(run=run)

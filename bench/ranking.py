"""The ranking job at scale: `python -m bench.ranking --customers 1000000`.

Creates a throwaway database on the server of TOUCHPOINT_DATABASE_URL, migrates it, fills
`customer_value` with generate_series (a Zipf-like profit curve, 10% prospects, purchases over
two years), runs the job once (no Kafka: the publish is one small record) and prints the time
of each query and of the whole run. docs/benchmarks.md has the figures and the 10M arithmetic.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import event, text

from touchpoint_common.db.engine import create_engine, create_session_factory
from touchpoint_common.db.migrate import run_migrations
from touchpoint_common.settings import CommonSettings
from touchpoint_devtools.devservers.databases import create_database, drop_database
from touchpoint_profile.ranking.service import run_ranking
from touchpoint_profile.settings import ProfileSettings
from touchpoint_profile.worklist.service import get_worklist

FILL = """
    INSERT INTO customer_value (customer_id, reporting_currency, as_of, window_frequency,
        window_monetary, window_profit, lifetime_purchases, lifetime_monetary, lifetime_profit,
        first_seen_at, first_purchase_at, last_purchase_at, preferred_store, care_calls,
        care_visits)
    SELECT 'c-' || i, 'CNY',
        now() - make_interval(days => (i % 30)::int),
        CASE WHEN buyer THEN 1 + (i % 13) ELSE 0 END,
        CASE WHEN buyer THEN round((50 + (i * 7919) % 5000)::numeric, 2) ELSE 0 END,
        CASE WHEN buyer THEN round((100000.0 / (1 + (i * 104729) % 1000000))::numeric, 2) - 1
             ELSE 0 END,
        CASE WHEN buyer THEN 1 + (i % 40) ELSE 0 END,
        CASE WHEN buyer THEN round((200 + (i * 31) % 20000)::numeric, 2) ELSE 0 END,
        CASE WHEN buyer THEN round((40 + (i * 17) % 4000)::numeric, 2) ELSE 0 END,
        now() - make_interval(days => (1 + i % 730)::int),
        CASE WHEN buyer THEN now() - make_interval(days => (1 + i % 700)::int) END,
        CASE WHEN buyer THEN now() - make_interval(days => least(1 + i % 700, (i * 37) % 200)::int)
             END,
        's' || (i % 200),
        CASE WHEN i % 3 = 0 THEN ARRAY[current_date - (i % 40)::int] END,
        CASE WHEN i % 4 = 0 THEN ARRAY[current_date - (i % 20)::int,
                                       current_date - (i % 50)::int] END
    FROM (SELECT i, i % 10 <> 0 AS buyer FROM generate_series(1::bigint, :n) AS i) s
"""
CARE = """
    INSERT INTO profile_customers (customer_id, state, erased, updated_at,
        open_complaint_severity, open_complaint_opened_at, open_commitment_due_at,
        closed_complaint_severity, closed_complaint_resolved_at, closed_complaint_hours,
        closed_complaint_satisfaction)
    SELECT 'c-' || i, jsonb_build_object('customer_id', 'c-' || i), false, now(),
        CASE WHEN i % 100 = 0 THEN ARRAY['high'] END,
        CASE WHEN i % 100 = 0 THEN ARRAY[now() - make_interval(hours => (i % 72)::int)] END,
        CASE WHEN i % 150 = 0 THEN ARRAY[now() + make_interval(hours => (i % 96)::int - 48)] END,
        CASE WHEN i % 50 = 0 THEN ARRAY['medium'] END,
        CASE WHEN i % 50 = 0 THEN ARRAY[now() - make_interval(days => (i % 60)::int)] END,
        CASE WHEN i % 50 = 0 THEN ARRAY[(i % 100)::float] END,
        CASE WHEN i % 50 = 0 THEN ARRAY[(1 + i % 5)::smallint] END
    FROM generate_series(1::bigint, :n) AS i
"""
"""One small state per customer: 1% with an open complaint, 0.7% a promise, 2% a resolved
complaint (the partial indexes keep the worklist and the figures to those)."""


async def bench(customers: int) -> None:
    """Fill a fresh database with `customers` rows, run the job, print the timings."""
    servers = CommonSettings()
    name = f"touchpoint_bench_ranking_{uuid.uuid4().hex[:8]}"
    url = await create_database(servers.database_url, name)
    settings = ProfileSettings(database_url=url, ranking_clv_sample=100_000)
    engine = create_engine(settings)
    timings: list[tuple[float, str]] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _start(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        conn.info["started"] = time.perf_counter()

    @event.listens_for(engine.sync_engine, "after_cursor_execute")
    def _stop(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        first = " ".join(statement.split())[:70]
        timings.append((time.perf_counter() - conn.info.pop("started"), first))

    try:
        await run_migrations(engine)
        sessions = create_session_factory(engine)
        started = time.perf_counter()
        async with sessions() as db_session, db_session.begin():
            await db_session.execute(text(FILL), {"n": customers})
            await db_session.execute(text(CARE), {"n": customers})
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("VACUUM ANALYZE customer_value"))
            await connection.execute(text("VACUUM ANALYZE profile_customers"))
        async with engine.connect() as connection:
            size = await connection.scalar(text("SELECT pg_total_relation_size('customer_value')"))
        print(
            f"filled {customers} rows in {time.perf_counter() - started:.1f}s, {size / 1e6:.0f} MB"
        )
        timings.clear()
        started = time.perf_counter()
        result = await run_ranking(
            sessions=sessions, publisher=None, settings=settings, now=datetime.now(UTC)
        )
        total = time.perf_counter() - started
        for seconds, statement in timings:
            if seconds > 0.05:
                print(f"{seconds:8.2f}s  {statement}")
        in_sql = sum(seconds for seconds, _ in timings)
        print(f"{in_sql:8.2f}s  all SQL; {total - in_sql:.2f}s in Python (the CLV fit)")
        assert result.run is not None, result.reason
        print(f"ranking job: {total:.1f}s for {customers} customers")
        for store_id in (None, None, None, "s7", "s7"):
            started = time.perf_counter()
            async with sessions() as db_session:
                worklist = await get_worklist(
                    db_session=db_session,
                    now=datetime.now(UTC),
                    rules=settings.profile_rules,
                    currency="CNY",
                    limit=50,
                    store_id=store_id,
                )
            reasons = sorted({item.reason_code for item in worklist.items})
            print(
                f"worklist of {len(worklist.items)} (store {store_id}, {reasons}): "
                f"{time.perf_counter() - started:.2f}s"
            )
        print(result.run.figures.complaints)
        print(result.run.ranking.model_dump_json(indent=1))
    finally:
        await engine.dispose()
        await drop_database(servers.database_url, name)


def main() -> None:
    """Parse --customers and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    asyncio.run(bench(parser.parse_args().customers))


if __name__ == "__main__":
    main()

"""/readyz tells the truth about the broker, the database and the schema, and answers fast."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import report
from tests.integration.ops.apps import create_ops_app, serve
from touchpoint_common.db.engine import create_engine
from touchpoint_common.db.migrate import run_migrations
from touchpoint_common.ops.settings import OpsSettings
from touchpoint_common.settings import CommonSettings
from touchpoint_devtools.devservers import LocalKafka
from touchpoint_devtools.devservers._common import get_free_port

pytestmark = pytest.mark.integration

FAST_OPS = OpsSettings(lag_interval_s=1, lag_timeout_s=2, lag_stale_after_s=60)


def _gauge(metrics_text: str, name: str, service: str) -> float | None:
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == name and sample.labels.get("service") == service:
                return sample.value
    return None


async def test_readiness_flips_when_the_broker_stops_and_comes_back(
    settings: CommonSettings, own_kafka: Callable[[], LocalKafka]
) -> None:
    """Broker up: 200. Broker stopped: 503 naming kafka, within the check budget, while
    /metrics and the lag endpoint still answer at once. Broker restarted: 200 again."""
    broker = await asyncio.to_thread(own_kafka)
    local = settings.model_copy(
        update={"kafka_bootstrap": broker.bootstrap, "service_name": "ops-ready"}
    )
    async with serve(create_ops_app(local, FAST_OPS)) as client:
        up = await client.get("/readyz")
        assert up.status_code == 200, up.text
        assert up.json()["checks"] == {"database": "ok", "kafka": "ok"}

        await broker.stop_async()
        started = time.monotonic()
        down = await client.get("/readyz")
        readyz_seconds = time.monotonic() - started
        assert down.status_code == 503, down.text
        assert down.json()["checks"]["database"] == "ok"
        assert down.json()["checks"]["kafka"].startswith("failed")
        assert readyz_seconds < 3.0
        report(f"ops: /readyz answered 503 in {readyz_seconds:.2f}s with the broker stopped")

        started = time.monotonic()
        metrics = await client.get("/metrics")
        assert time.monotonic() - started < 1.0
        assert metrics.status_code == 200
        assert _gauge(metrics.text, "touchpoint_ready", "ops-ready") == 0.0

        started = time.monotonic()
        lag = await client.get("/v1/ops/lag", params={"refresh": "true"})
        assert lag.status_code == 503
        assert time.monotonic() - started < FAST_OPS.lag_timeout_s + 1.5

        await broker.start_async()
        statuses = []
        for _ in range(60):
            response = await client.get("/readyz")
            statuses.append(response.status_code)
            if response.status_code == 200:
                break
            await asyncio.sleep(1)
        assert statuses[-1] == 200, statuses
        report(f"ops: /readyz back to 200 after broker restart ({len(statuses)} polls, 1s apart)")
        metrics_after = (await client.get("/metrics")).text
        assert _gauge(metrics_after, "touchpoint_ready", "ops-ready") == 1.0


async def test_not_ready_until_migrations_have_run(settings: CommonSettings) -> None:
    """An empty database answers queries but has no schema: 503 until migrations run."""
    server_url = make_url(settings.database_url)
    name = f"touchpoint_ops_empty_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    empty_url = server_url.set(database=name).render_as_string(hide_password=False)
    local = settings.model_copy(
        update={"database_url": empty_url, "run_migrations": False, "service_name": "ops-schema"}
    )
    try:
        async with serve(create_ops_app(local, FAST_OPS), with_key=False) as client:
            before = await client.get("/readyz")
            assert before.status_code == 503
            assert before.json()["checks"]["database"] == "failed: SchemaNotCurrent"
            assert before.json()["checks"]["kafka"] == "ok"
            engine = create_engine(local)
            try:
                await run_migrations(engine)
            finally:
                await engine.dispose()
            after = await client.get("/readyz")
            assert after.status_code == 200, after.text
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def test_not_ready_while_the_database_is_unreachable(settings: CommonSettings) -> None:
    """A database address nobody answers on gives 503 naming the database, within budget."""
    dead_url = make_url(settings.database_url).set(host="127.0.0.1", port=get_free_port())
    local = settings.model_copy(
        update={
            "database_url": dead_url.render_as_string(hide_password=False),
            "run_migrations": False,
            "service_name": "ops-nodb",
        }
    )
    async with serve(create_ops_app(local, FAST_OPS), with_key=False) as client:
        started = time.monotonic()
        response = await client.get("/readyz")
        assert time.monotonic() - started < 3.0
        assert response.status_code == 503
        assert response.json()["checks"]["database"].startswith("failed")
        assert response.json()["checks"]["kafka"] == "ok"

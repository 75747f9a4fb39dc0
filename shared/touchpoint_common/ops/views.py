"""GET /v1/ops/lag, and the background lag monitor that feeds it and /metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request

from touchpoint_common.access.dependencies import require_scopes
from touchpoint_common.access.models import Scope
from touchpoint_common.kafka.configuration import get_security_config
from touchpoint_common.observability.health import run_readiness_checks
from touchpoint_common.ops.collector import LagCollector
from touchpoint_common.ops.metrics import LAG_METRICS
from touchpoint_common.ops.models import LagReportOut
from touchpoint_common.ops.monitor import LagMonitor, LagUnavailable
from touchpoint_common.ops.settings import OpsSettings
from touchpoint_common.runtime import Runtime
from touchpoint_common.tasks import stop_task


def _create_monitor(runtime: Runtime, settings: OpsSettings) -> LagMonitor:
    common = runtime.settings
    collector = LagCollector(
        bootstrap=common.kafka_bootstrap,
        client_id=f"{common.service_name}-ops",
        request_timeout_ms=int(settings.lag_timeout_s * 1000),
        security=get_security_config(common),
    )
    return LagMonitor(name=common.service_name, collector=collector, settings=settings)


async def _watch_readiness(runtime: Runtime, interval_s: float) -> None:
    """Keep touchpoint_ready current for alerting even when nothing probes /readyz."""
    checks = runtime.readiness_checks()
    while True:
        await run_readiness_checks(checks, service=runtime.settings.service_name)
        await asyncio.sleep(interval_s)


def get_lag_router(settings: OpsSettings | None = None) -> APIRouter:
    """The lag endpoint; its lifespan runs a LagMonitor whose reports /metrics exports."""
    ops_settings = settings or OpsSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        monitor = _create_monitor(app.state.runtime, ops_settings)
        app.state.lag_monitor = monitor
        LAG_METRICS.add(monitor)
        if ops_settings.lag_enabled:
            monitor.start()
        readiness = asyncio.create_task(
            _watch_readiness(app.state.runtime, ops_settings.lag_interval_s)
        )
        try:
            yield
        finally:
            await stop_task(readiness)
            LAG_METRICS.remove(monitor)
            await monitor.stop()

    router = APIRouter(
        prefix="/v1/ops",
        tags=["ops"],
        lifespan=lifespan,
        dependencies=[Depends(require_scopes(Scope.OPS_READ))],
    )

    @router.get(
        "/lag",
        response_model=LagReportOut,
        summary="Consumer lag per group, topic and partition",
        responses={
            404: {"description": "The consumer group asked for is not watched."},
            503: {"description": "The broker did not answer within the time budget."},
        },
    )
    async def read_lag(
        request: Request,
        group: Annotated[str | None, Query(description="Only this consumer group.")] = None,
        refresh: Annotated[
            bool, Query(description="Read the broker now instead of the last report.")
        ] = False,
    ) -> LagReportOut:
        monitor: LagMonitor = request.app.state.lag_monitor
        report = None if refresh else monitor.get_fresh_report()
        if report is None or (group is not None and report.get_group(group) is None):
            try:
                report = await monitor.refresh()
            except LagUnavailable as exc:
                raise HTTPException(
                    status_code=503, detail=str(exc), headers={"Retry-After": "1"}
                ) from exc
        if group is not None and report.get_group(group) is None:
            raise HTTPException(status_code=404, detail=f"group: {group!r} is not watched")
        return LagReportOut.from_report(report, now=datetime.now(tz=UTC), group=group)

    return router

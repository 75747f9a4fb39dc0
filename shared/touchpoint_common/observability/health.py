"""/healthz (the process is alive) and /readyz (its dependencies answer)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from prometheus_client import Gauge

ReadinessCheck = Callable[[], Awaitable[None]]
_READINESS_SCHEMA = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["ready", "not ready"]},
        "checks": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "required": ["status", "checks"],
}

READY = Gauge(
    "touchpoint_ready", "1 when the service's last readiness check passed, else 0.", ["service"]
)
READINESS_CHECK_OK = Gauge(
    "touchpoint_readiness_check_ok",
    "1 when the named dependency passed the last readiness check, else 0.",
    ["service", "check"],
)


async def run_readiness_checks(
    checks: Mapping[str, ReadinessCheck], *, timeout_s: float = 2.0, service: str | None = None
) -> tuple[bool, dict[str, str]]:
    """Run every check concurrently, each within timeout_s; record the outcome as gauges."""

    async def run(check: ReadinessCheck) -> str:
        try:
            await asyncio.wait_for(check(), timeout=timeout_s)
        except Exception as exc:  # any failure means not ready; say which kind
            return f"failed: {type(exc).__name__}"
        return "ok"

    names = list(checks)
    outcomes = await asyncio.gather(*(run(checks[name]) for name in names))
    results = dict(zip(names, outcomes, strict=True))
    ready = all(outcome == "ok" for outcome in outcomes)
    if service is not None:
        READY.labels(service).set(1 if ready else 0)
        for name, outcome in results.items():
            READINESS_CHECK_OK.labels(service, name).set(1 if outcome == "ok" else 0)
    return ready, results


def get_health_router(
    checks: dict[str, ReadinessCheck], *, timeout_s: float = 2.0, service: str | None = None
) -> APIRouter:
    """A router whose /readyz runs every named check concurrently, each within timeout_s."""
    router = APIRouter(tags=["ops"])

    @router.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @router.get(
        "/readyz",
        summary="Readiness: broker, database and schema reachable",
        responses={
            503: {
                "description": "A dependency did not answer (named in `checks`).",
                "content": {"application/json": {"schema": _READINESS_SCHEMA}},
            }
        },
    )
    async def readyz() -> JSONResponse:
        ready, results = await run_readiness_checks(checks, timeout_s=timeout_s, service=service)
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": results},
            status_code=200 if ready else 503,
        )

    return router

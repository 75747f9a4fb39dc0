"""Prometheus metrics: HTTP requests by route and status, plus the /metrics endpoint."""

from __future__ import annotations

import time
import uuid

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.datastructures import MutableHeaders
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from touchpoint_common.observability.logging import request_id_var

HTTP_REQUESTS = Counter(
    "touchpoint_http_requests_total",
    "HTTP requests by service, method, route template and status code.",
    ["service", "method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "touchpoint_http_request_duration_seconds",
    "HTTP request latency by service, method, route template and status code.",
    ["service", "method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def _route_template(request: Request) -> str:
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match == Match.FULL:
            return str(getattr(route, "path", "unmatched"))
    return "unmatched"


class RequestMetricsMiddleware:
    """Counts and times every request; labels use the route template, never raw paths. Sets
    the request id for the logs and echoes it as x-request-id.

    Plain ASGI (not BaseHTTPMiddleware, which runs each request in its own task group with
    memory streams: a noticeable share of a small request's CPU).
    """

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request and label it by route template and final status."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        route = _route_template(request)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)["x-request-id"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            HTTP_LATENCY.labels(self.service, scope["method"], route, str(status)).observe(
                time.perf_counter() - started
            )
            HTTP_REQUESTS.labels(self.service, scope["method"], route, str(status)).inc()
            request_id_var.reset(token)


def get_metrics_router() -> APIRouter:
    """GET /metrics in the Prometheus text format."""
    router = APIRouter(tags=["ops"])

    @router.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
    )
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


# Pipeline metrics, shared so every service and dashboard uses one set of names.
EVENTS_PRODUCED = Counter(
    "touchpoint_events_produced_total", "Events acknowledged by the broker.", ["service", "type"]
)
PRODUCERS_REPLACED = Counter(
    "touchpoint_kafka_producers_replaced_total",
    "Kafka producers replaced because a send waited too long for the broker (a wedged client).",
)
EVENTS_REJECTED = Counter(
    "touchpoint_events_rejected_total",
    "Events refused at the door, by reason (validation, size, identity, unavailable).",
    ["service", "reason"],
)
EVENTS_CONSUMED = Counter(
    "touchpoint_events_consumed_total", "Records read from Kafka.", ["service", "group"]
)
EVENTS_FOLDED = Counter(
    "touchpoint_events_folded_total", "Events applied to a projection.", ["service", "type"]
)
EVENTS_DUPLICATE = Counter(
    "touchpoint_events_duplicate_total",
    "Events skipped because their event_id was already applied.",
    ["service"],
)
EVENTS_DEAD_LETTERED = Counter(
    "touchpoint_events_dead_lettered_total",
    "Records sent to the dead-letter topic, by reason class.",
    ["service", "reason"],
)
FOLD_FRESHNESS = Histogram(
    "touchpoint_fold_freshness_seconds",
    "Seconds from an event's received_at to its being visible in the projection.",
    ["service"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
)
DB_POOL_CHECKED_OUT = Gauge(
    "touchpoint_db_pool_checked_out", "Database connections in use.", ["service"]
)
DB_POOL_SIZE = Gauge("touchpoint_db_pool_size", "Database pool size.", ["service"])

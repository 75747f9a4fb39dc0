"""One trace from `POST /v1/events` through Kafka into the profile's commit, and a decision's
span naming the trace that wrote the view it read (real broker and database, in-process apps,
the SDK's in-memory span exporter)."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.integration.keys import all_scopes_headers
from tests.integration.services import create_service_apps
from tests.spans import recording_spans
from touchpoint_common.settings import CommonSettings

pytestmark = pytest.mark.integration
PROFILE_GROUP = "touchpoint-profile"
WAIT_S = 30.0


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    """Every span this process ends, kept in memory; tracing off again afterwards."""
    with recording_spans(enable=False) as memory:
        yield memory


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def clients(
    settings: CommonSettings, exporter: InMemorySpanExporter, tmp_path_factory: Any
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """The three services with tracing on, started by their lifespans; a client for each."""
    on = {"tracing_enabled": True}
    apps: dict[str, FastAPI] = create_service_apps(
        settings, tmp_path_factory.mktemp("traces"), ingest=on, profile=on, recommend=on
    )
    headers = await all_scopes_headers(settings)
    async with (
        LifespanManager(apps["ingest"], startup_timeout=60, shutdown_timeout=30),
        LifespanManager(apps["profile"], startup_timeout=60, shutdown_timeout=30),
        LifespanManager(apps["recommend"], startup_timeout=60, shutdown_timeout=30),
    ):
        opened = {
            name: httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url=f"http://{name}",
                headers=headers,
            )
            for name, app in apps.items()
        }
        try:
            yield opened
        finally:
            for client in opened.values():
                await client.aclose()


def new_traceparent() -> tuple[str, str]:
    """A sampled W3C traceparent with a fresh trace id, and that trace id (32 hex digits)."""
    trace_id = secrets.token_hex(16)
    return f"00-{trace_id}-{secrets.token_hex(8)}-01", trace_id


def purchase(loyalty_id: str) -> dict[str, Any]:
    """A POS purchase body for this loyalty card."""
    return {
        "event_id": str(uuid.uuid4()),
        "type": "purchase",
        "channel": "pos",
        "occurred_at": datetime.now(UTC).isoformat(),
        "customer": {"loyalty_id": loyalty_id},
        "store_id": "12",
        "payload": {
            "order_id": f"o-{uuid.uuid4().hex[:8]}",
            "amount": "12.00",
            "currency": "CNY",
            "items": [{"sku": "s", "category": "tea", "quantity": 1, "unit_price": "12.00"}],
        },
    }


def in_trace(exporter: InMemorySpanExporter, trace_id: str) -> list[ReadableSpan]:
    """The finished spans of one trace."""
    return [
        span
        for span in exporter.get_finished_spans()
        if span.context is not None and trace.format_trace_id(span.context.trace_id) == trace_id
    ]


async def wait_for_ended(
    exporter: InMemorySpanExporter, wanted: Callable[[ReadableSpan], bool]
) -> ReadableSpan:
    """The first finished span `wanted` accepts (waits for it to end)."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while True:
        found = [span for span in exporter.get_finished_spans() if wanted(span)]
        if found:
            return found[0]
        assert asyncio.get_running_loop().time() < deadline, "the span never ended"
        await asyncio.sleep(0.1)


async def wait_for_span(
    exporter: InMemorySpanExporter, trace_id: str, name: str, **attributes: Any
) -> ReadableSpan:
    """The first finished span of the trace with this name and attributes (waits for it)."""

    def wanted(span: ReadableSpan) -> bool:
        found = span.attributes or {}
        return (
            span.context is not None
            and trace.format_trace_id(span.context.trace_id) == trace_id
            and span.name == name
            and all(found.get(key) == value for key, value in attributes.items())
        )

    return await wait_for_ended(exporter, wanted)


async def test_one_trace_from_post_to_the_profile_commit_and_into_the_decision(
    clients: dict[str, httpx.AsyncClient], exporter: InMemorySpanExporter
) -> None:
    """A POST carrying a traceparent is served in that trace, its record carries it through
    Kafka, and the profile's commit of that event is a span of the same trace; a decision on
    that customer (another trace) names the posting trace as the one that wrote the view it
    read, and its offer_presented record is committed by the profile in the decision's trace."""
    loyalty_id = f"L-{uuid.uuid4().hex[:12]}"
    posted, post_trace = new_traceparent()
    answer = await clients["ingest"].post(
        "/v1/events", json=purchase(loyalty_id), headers={"traceparent": posted}
    )
    assert answer.status_code == 202, answer.text

    server = await wait_for_span(exporter, post_trace, "POST /v1/events")
    accept_pass = await wait_for_span(exporter, post_trace, "accept pass")
    assert accept_pass.parent is not None
    assert server.context is not None
    assert accept_pass.parent.span_id == server.context.span_id
    commit = await wait_for_span(
        exporter, post_trace, f"commit {PROFILE_GROUP}", **{"db.system.name": "postgresql"}
    )
    assert commit.parent is not None
    batch_link = commit.links[0].context
    batch = await wait_for_ended(exporter, lambda span: span.context == batch_link)
    assert batch.name.startswith("process ")
    assert any(trace.format_trace_id(link.context.trace_id) == post_trace for link in batch.links)
    assert commit.parent.span_id == server.context.span_id, "the record names the request span"

    view = await clients["profile"].get("/v1/customers/lookup", params={"loyalty_id": loyalty_id})
    assert view.status_code == 200, view.text
    customer_id = view.json()["customer_id"]
    asked, decision_trace = new_traceparent()
    offers = await clients["recommend"].get(
        f"/v1/customers/{customer_id}/next-offers",
        params={"channel": "pos"},
        headers={"traceparent": asked},
    )
    assert offers.status_code == 200, offers.text
    assert offers.json()["event_logged"] is True

    decide = await wait_for_span(exporter, decision_trace, "decide")
    assert (decide.attributes or {})["touchpoint.view.trace_id"] == post_trace
    assert [trace.format_trace_id(link.context.trace_id) for link in decide.links] == [post_trace]
    await wait_for_span(exporter, decision_trace, f"commit {PROFILE_GROUP}")

    lookup = [span for span in exporter.get_finished_spans() if span.name.endswith("/lookup")]
    assert lookup, "the lookup was not traced"
    for span in lookup:
        assert loyalty_id not in repr(dict(span.attributes or {})), "a query left in a span"


async def test_coalesced_batches_keep_each_request_trace(
    clients: dict[str, httpx.AsyncClient], exporter: InMemorySpanExporter
) -> None:
    """Two `POST /v1/events/batch` requests sent together (one accept pass may carry both)
    each end at a profile commit in their own trace: the pass publishes every event with the
    context of the request that carried it."""
    traces = [new_traceparent() for _ in range(2)]
    answers = await asyncio.gather(
        *(
            clients["ingest"].post(
                "/v1/events/batch",
                json={"events": [purchase(f"L-{uuid.uuid4().hex[:12]}") for _ in range(3)]},
                headers={"traceparent": traceparent},
            )
            for traceparent, _ in traces
        )
    )
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert {item["status"] for item in answer.json()["results"]} == {"accepted"}
    for _, trace_id in traces:
        await wait_for_span(exporter, trace_id, "POST /v1/events/batch")
        await wait_for_span(exporter, trace_id, f"commit {PROFILE_GROUP}")

"""Hostile bodies, overload, dead claim owners and merges across a failed produce, for real."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import text

from tests.integration.ingest.conftest import TopicReader, make_ingest_settings
from tests.integration.ingest.test_events_api import fresh, unique_phone
from tests.integration.keys import all_scopes_headers
from touchpoint_common.events.codec import decode_event
from touchpoint_common.settings import CommonSettings
from touchpoint_devtools.devservers import LocalKafka
from touchpoint_ingest.events.claim import claim_and_resolve
from touchpoint_ingest.events.context import IngestContext
from touchpoint_ingest.events.idempotency import ingest_event_ids
from touchpoint_ingest.events.owner import LOCK_NAMESPACE
from touchpoint_ingest.events.validation import ValidEvent, validate_event
from touchpoint_ingest.main import create_app
from touchpoint_ingest.settings import IngestSettings

pytestmark = pytest.mark.integration


def with_fields(kind: str, **fields: Any) -> dict[str, Any]:
    """A fresh event of `kind` with top-level fields replaced."""
    event = fresh(kind)
    event.update(fields)
    return event


def offer_with_rank(rank: object) -> dict[str, Any]:
    """A fresh offer_presented whose one offer has this rank."""
    event = fresh("offer_presented")
    event["payload"]["offers"][0]["rank"] = rank
    return event


def complaint_text(value: str) -> dict[str, Any]:
    """A fresh complaint with this free text."""
    event = fresh("complaint")
    event["payload"]["text"] = value
    return event


# (what, raw body, expected status, the loc the answer must name)
HAND_MADE: list[tuple[str, bytes, int, list[Any]]] = [
    ("deep nesting", b"[" * 100_000 + b"]" * 100_000, 422, ["body"]),
    ("deep object", b'{"a":' * 5000 + b"1" + b"}" * 5000, 422, ["body"]),
    (
        "year 1 east of UTC",
        json.dumps(with_fields("call", occurred_at="0001-01-01T00:00:00+01:00")).encode(),
        422,
        ["body", "occurred_at"],
    ),
    (
        "year 9999 west of UTC",
        json.dumps(with_fields("call", occurred_at="9999-12-31T23:59:59-01:00")).encode(),
        422,
        ["body", "occurred_at"],
    ),
    (
        "rank 2**70",
        json.dumps(offer_with_rank(2**70)).encode(),
        422,
        ["body", "payload", "offers", 0, "rank"],
    ),
    (
        "rank over int4",
        json.dumps(offer_with_rank(2**31)).encode(),
        422,
        ["body", "payload", "offers", 0, "rank"],
    ),
    (
        "NUL in store_id",
        json.dumps(with_fields("call", store_id="S\u00001")).encode(),
        422,
        ["body", "store_id"],
    ),
    (
        "NUL in complaint text",
        json.dumps(complaint_text("cracked\u0000teapot")).encode(),
        422,
        ["body", "payload", "text"],
    ),
    (
        "lone surrogate",
        json.dumps(with_fields("call", agent_id="\ud800")).encode(),
        422,
        ["body", "agent_id"],
    ),
    (
        "score beyond a double",
        json.dumps(offer_with_rank(1)).replace('"score": 0.82', '"score": 1e400').encode(),
        422,
        ["body", "payload", "offers", 0, "score"],
    ),
]


@pytest.mark.parametrize(
    ("what", "body", "status", "loc"), HAND_MADE, ids=[h[0] for h in HAND_MADE]
)
async def test_hand_made_bodies_get_a_4xx_naming_the_field(
    client: httpx.AsyncClient, what: str, body: bytes, status: int, loc: list[Any]
) -> None:
    """Bodies that gave 500 (RecursionError, OverflowError, TypeError) or a poisonous 202."""
    headers = {"content-type": "application/json"}
    response = await client.post("/v1/events", content=body, headers=headers)
    assert response.status_code == status, (what, response.text[:500])
    assert loc in [error["loc"] for error in response.json()["detail"]], response.text[:500]
    if body.startswith(b"{") and b'"event_id"' in body:
        batch = b'{"events": [' + body + b"]}"
        answered = await client.post("/v1/events/batch", content=batch, headers=headers)
        assert answered.status_code == 200, answered.text[:500]
        [result] = answered.json()["results"]
        assert result["status"] == "rejected"
        assert ["body", "events", 0, *loc[1:]] in [e["loc"] for e in result["errors"]]


async def test_free_text_keeps_line_breaks(client: httpx.AsyncClient) -> None:
    """Tabs and line breaks stay allowed in complaint text (refused in identifiers)."""
    accepted = await client.post("/v1/events", json=complaint_text("line one\nline\ttwo"))
    assert accepted.status_code == 202, accepted.text
    refused = await client.post("/v1/events", json=with_fields("call", store_id="S\n1"))
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "store_id"]


async def test_floods_and_odd_headers_are_refused_before_parsing(
    client: httpx.AsyncClient,
) -> None:
    """1 MiB of `{}` is 413 before it becomes objects; a non-ASCII Content-Length is 400."""
    flood = b'{"events":[' + b"{}," * 300_000 + b"{}]}"
    response = await client.post(
        "/v1/events/batch", content=flood, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413, response.text[:300]
    odd = await client.post(
        "/v1/events",
        content=b"{}",
        headers={b"content-type": b"application/json", b"content-length": b"\xb2"},
    )
    assert odd.status_code == 400


async def test_overload_is_503_with_retry_after(
    client: httpx.AsyncClient, ingest_app: FastAPI
) -> None:
    """With every in-flight slot taken, a request is refused at once (nothing accepted)."""
    admission = ingest_app.state.admission
    taken = admission.limit - admission.in_flight
    admission.in_flight += taken
    try:
        event = fresh("call")
        response = await client.post("/v1/events", json=event)
        batch = await client.post("/v1/events/batch", json={"events": [fresh("call")]})
    finally:
        admission.in_flight -= taken
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert batch.status_code == 503
    again = await client.post("/v1/events", json=event)
    assert again.status_code == 202, again.text


def validated(context: IngestContext, event: dict[str, Any]) -> ValidEvent:
    """The event as the service validates it (for its fingerprint)."""
    checked = validate_event(event, now=datetime.now(UTC), rules=context.rules, may_link=True)
    assert isinstance(checked, ValidEvent), checked
    return checked


async def stamp_claim(context: IngestContext, valid: ValidEvent, owner: int) -> None:
    """A fresh pending claim of this event, owned by `owner` (as if it were producing now)."""
    async with context.sessions() as session, session.begin():
        await session.execute(
            ingest_event_ids.insert().values(
                event_id=valid.event_id,
                fingerprint=valid.fingerprint,
                status="pending",
                owner=owner,
            )
        )


async def test_claim_of_a_dead_process_is_taken_over_at_once(
    client: httpx.AsyncClient, ingest_app: FastAPI, topic: TopicReader
) -> None:
    """A fresh claim whose owner's lock is free is taken over (it was 409 for 30 s before);
    one whose owner lives is still in progress."""
    context: IngestContext = ingest_app.state.ingest
    dead_event = fresh("call", phone=unique_phone())
    await stamp_claim(context, validated(context, dead_event), owner=12345)
    response = await client.post("/v1/events", json=dead_event)
    assert response.status_code == 202, response.text
    assert len(await topic.with_event_id(dead_event["event_id"])) == 1

    live_event = fresh("call", phone=unique_phone())
    async with context.sessions() as holder:
        await holder.execute(text("SELECT pg_advisory_lock(:ns, 54321)"), {"ns": LOCK_NAMESPACE})
        await stamp_claim(context, validated(context, live_event), owner=54321)
        busy = await client.post("/v1/events", json=live_event)
        assert busy.status_code == 409, busy.text
        await holder.execute(text("SELECT pg_advisory_unlock(:ns, 54321)"), {"ns": LOCK_NAMESPACE})
        await holder.commit()
    taken = await client.post("/v1/events", json=live_event)
    assert taken.status_code == 202, taken.text


async def two_customers_and_their_merge(
    client: httpx.AsyncClient, topic: TopicReader
) -> tuple[set[str], dict[str, Any]]:
    """Two customers (one by phone, one by loyalty id) posted, and an identify merging them."""
    phone, loyalty = unique_phone(), f"L-{uuid.uuid4().hex[:10]}"
    by_phone, by_loyalty = fresh("call", phone=phone), fresh("call", loyalty_id=loyalty)
    for event in (by_phone, by_loyalty):
        assert (await client.post("/v1/events", json=event)).status_code == 202
    customers = {
        decode_event((await topic.with_event_id(e["event_id"]))[0].value).customer_id
        for e in (by_phone, by_loyalty)
    }
    identify = fresh("identify", phone=phone)
    identify["payload"] = {"link": {"loyalty_id": loyalty}}
    return customers, identify


async def test_merge_of_a_dead_attempt_is_announced_by_the_retry(
    client: httpx.AsyncClient, ingest_app: FastAPI, topic: TopicReader
) -> None:
    """An identify whose process died after committing its merge, before producing: the
    retry takes the claim over and still names the merged customer."""
    context: IngestContext = ingest_app.state.ingest
    customers, identify = await two_customers_and_their_merge(client, topic)
    valid = validated(context, identify)
    claimed = await claim_and_resolve(
        context=context, events=[valid], unique=[0], paths=[("body",)]
    )  # the first attempt: merge committed, then the process "dies" before producing
    assert claimed.to_send
    assert claimed.to_send[0].resolved.merged_customer_ids
    async with context.sessions() as session, session.begin():
        await session.execute(
            ingest_event_ids.update()
            .where(ingest_event_ids.c.event_id == valid.event_id)
            .values(owner=777)
        )
    response = await client.post("/v1/events", json=identify)
    assert response.status_code == 202, response.text
    [record] = await topic.with_event_id(identify["event_id"])
    wire = decode_event(record.value)
    assert {wire.customer_id, *wire.payload["merged_customer_ids"]} == customers


async def test_merge_is_announced_when_the_first_produce_failed(
    settings: CommonSettings,
    own_kafka: Callable[[], LocalKafka],
    client: httpx.AsyncClient,
    topic: TopicReader,
) -> None:
    """An identify that merges is first sent through a broker that stops for good (503, the
    send never lands); its retry, through another process, still names the merged customer
    (it went out with merged_customer_ids [] before: the merge was already committed)."""
    customers, identify = await two_customers_and_their_merge(client, topic)

    broker = await asyncio.to_thread(own_kafka)
    doomed = create_app(
        make_ingest_settings(
            settings,
            kafka_bootstrap=broker.bootstrap,
            produce_timeout_s=1.0,
            kafka_request_timeout_ms=1000,
        )
    )
    manager = LifespanManager(doomed, startup_timeout=60, shutdown_timeout=30)
    await manager.__aenter__()
    try:
        transport = httpx.ASGITransport(app=doomed)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://d", headers=await all_scopes_headers(settings)
        ) as first:
            await asyncio.to_thread(broker.stop)
            refused = await first.post("/v1/events", json=identify)
            assert refused.status_code == 503, refused.text
        response = await client.post("/v1/events", json=identify)
        assert response.status_code == 202, response.text
    finally:
        with contextlib.suppress(Exception):
            await manager.__aexit__(None, None, None)
    [record] = await topic.with_event_id(identify["event_id"])
    wire = decode_event(record.value)
    assert wire.payload["merged_customer_ids"], "the retry did not announce the merge"
    assert {wire.customer_id, *wire.payload["merged_customer_ids"]} == customers


def settings_env(settings: IngestSettings) -> dict[str, str]:
    """The TOUCHPOINT_* environment that makes a service process read these settings."""
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is not None:
            env[f"TOUCHPOINT_{name.upper()}"] = str(value)
    return env


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_claim_of_a_killed_ingest_process_is_taken_over_at_once(
    settings: CommonSettings,
    own_kafka: Callable[[], LocalKafka],
    client: httpx.AsyncClient,
    ingest_app: FastAPI,
    topic: TopicReader,
) -> None:
    """A real ingest process claims an event, its broker is down, it is killed (-9) while
    waiting to produce; a retry to another process is accepted at once (409 for 30 s before)."""
    broker = await asyncio.to_thread(own_kafka)
    doomed_settings = make_ingest_settings(
        settings, kafka_bootstrap=broker.bootstrap, produce_timeout_s=60.0
    )
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "uvicorn", "touchpoint_ingest.main:app", "--port", str(port)],
        env=settings_env(doomed_settings),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    event = fresh("call", phone=unique_phone())
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers=await all_scopes_headers(settings)
        ) as doomed:
            deadline = asyncio.get_running_loop().time() + 60
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await doomed.get("/readyz")).status_code == 200:
                        break
                assert asyncio.get_running_loop().time() < deadline, "ingest did not start"
                await asyncio.sleep(0.5)
            await asyncio.to_thread(broker.stop)
            stuck = asyncio.create_task(doomed.post("/v1/events", json=event, timeout=90))
            await wait_for_claim(ingest_app, event["event_id"])
            process.kill()
            await process.wait()
            stuck.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.TransportError):
                await stuck
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    started = asyncio.get_running_loop().time()
    while (response := await client.post("/v1/events", json=event)).status_code == 409:
        assert asyncio.get_running_loop().time() - started < 10, "the dead claim still blocks"
        await asyncio.sleep(0.2)  # PostgreSQL notices the killed client's connection
    assert response.status_code == 202, response.text
    assert len(await topic.with_event_id(event["event_id"])) == 1


async def wait_for_claim(app: FastAPI, event_id: str) -> None:
    """Until the event_id is claimed (pending) in the database the app uses."""
    context: IngestContext = app.state.ingest
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        async with context.sessions() as session:
            status = await session.scalar(
                text("SELECT status FROM ingest_event_ids WHERE event_id = :id"),
                {"id": uuid.UUID(event_id)},
            )
        if status == "pending":
            return
        assert asyncio.get_running_loop().time() < deadline, "the event was never claimed"
        await asyncio.sleep(0.2)

"""The live feed over real HTTP, CORS for the console's origin, and the console's files."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.integration.console.conftest import Stack
from tests.integration.console.customers import post_events, purchase, wait_for_view
from tests.integration.keys import bearer, create_token
from touchpoint_common.access.models import Scope
from touchpoint_common.settings import CommonSettings

pytestmark = pytest.mark.integration
LIVE_FIELDS = {"event_id", "type", "channel", "store_id", "occurred_at"}


async def _frames(response: httpx.Response) -> AsyncIterator[tuple[str, str]]:
    """(event, data) of each server-sent event; comments (keep-alives) are skipped."""
    buffer = ""
    async for chunk in response.aiter_text():
        buffer += chunk
        while "\n\n" in buffer:
            frame, buffer = buffer.split("\n\n", 1)
            fields = dict(
                line.split(": ", 1) for line in frame.splitlines() if not line.startswith(":")
            )
            if fields:
                yield fields.get("event", "message"), fields.get("data", "")


async def _feeds_open(client: httpx.AsyncClient, stack: Stack) -> float:
    """touchpoint_live_feeds_open as the profile's /metrics says now."""
    metrics = (await client.get(f"{stack.profile}/metrics")).text
    [value] = [
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith("touchpoint_live_feeds_open ")
    ]
    return value


async def _interactions_until(
    frames: AsyncIterator[tuple[str, str]], event_id: str
) -> list[dict[str, Any]]:
    """The interaction lines received up to and including `event_id`."""
    seen = []
    async for kind, data in frames:
        if kind == "interaction":
            seen.append(json.loads(data))
            if seen[-1]["event_id"] == event_id:
                return seen
    raise AssertionError("the feed ended before the event arrived")


async def test_live_feed_sends_only_this_customers_new_events_and_no_personal_data(
    stack: Stack, settings: CommonSettings, writer_token: str
) -> None:
    """A reader (profiles:read only) of customer A's feed gets `ready`, then A's purchases as
    lines of exactly event_id/type/channel/store_id/occurred_at, never the phone and never
    the purchase of customer B posted in between; the open feed is counted while it lasts and
    its opening is audited."""
    reader = await create_token(settings.database_url, {Scope.PROFILES_READ}, name="reader")
    phone = f"+86 139 {uuid.uuid4().int % 10**8:08d}"
    first = purchase({"phone": phone})
    other = purchase({"loyalty_id": f"L-{uuid.uuid4().hex[:10]}"})
    async with httpx.AsyncClient(timeout=30) as client:
        await post_events(client, stack.ingest, writer_token, [first])
        view = await wait_for_view(
            client, stack.profile, reader, {"phone": phone}, timeline_at_least=1
        )
        live_url = f"{stack.profile}/v1/customers/{view['customer_id']}/live"
        open_before = await _feeds_open(client, stack)
        async with client.stream("GET", live_url, headers=bearer(reader)) as response:
            assert response.status_code == 200
            assert await _feeds_open(client, stack) == open_before + 1
            assert response.headers["content-type"].startswith("text/event-stream")
            frames = _frames(response)
            kind, data = await anext(frames)
            assert (kind, json.loads(data)) == ("ready", {"customer_id": view["customer_id"]})
            second = purchase({"phone": phone}, store_id="7")
            await post_events(client, stack.ingest, writer_token, [other, second])
            third = purchase({"phone": phone})
            lines = await _interactions_until(frames, second["event_id"])
            await post_events(client, stack.ingest, writer_token, [third])
            lines += await _interactions_until(frames, third["event_id"])
        deadline = asyncio.get_running_loop().time() + 10
        while (still := await _feeds_open(client, stack)) != open_before:
            assert asyncio.get_running_loop().time() < deadline, f"{still} feeds still open"
            await asyncio.sleep(0.05)
        admin = bearer(await create_token(settings.database_url, {Scope.ADMIN}, name="auditor"))
        audit = await client.get(
            f"{stack.profile}/v1/admin/audit",
            params={"customer_id": view["customer_id"], "key_id": reader.split("_")[1]},
            headers=admin,
        )
    assert {entry["action"] for entry in audit.json()} == {"profile.lookup.phone", "profile.live"}
    assert [line["event_id"] for line in lines] == [second["event_id"], third["event_id"]]
    assert set(lines[0]) == LIVE_FIELDS
    assert lines[0]["type"] == "purchase"
    assert lines[0]["channel"] == "pos"
    assert lines[0]["store_id"] == "7"
    assert phone.replace(" ", "")[-8:] not in json.dumps(lines)


@pytest.mark.parametrize(
    ("service", "method", "path"),
    [("ingest", "POST", "/v1/events"), ("recommend", "GET", "/v1/customers/c/next-offers")],
)
async def test_cors_admits_the_console_origin_and_no_other(
    stack: Stack, service: str, method: str, path: str
) -> None:
    """A browser preflight from the console's origin (the profile's) is allowed with the
    Authorization header; one from another origin gets no CORS allowance."""
    url = getattr(stack, service) + path
    asked = {
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    async with httpx.AsyncClient() as client:
        allowed = await client.options(url, headers={"Origin": stack.profile, **asked})
        refused = await client.options(url, headers={"Origin": "http://evil.example", **asked})
    assert allowed.status_code == 200, allowed.text
    assert allowed.headers["access-control-allow-origin"] == stack.profile
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert refused.headers.get("access-control-allow-origin") is None


async def test_console_page_and_config_are_served_by_the_profile(stack: Stack) -> None:
    """/console redirects to the page, which is served with a content security policy that
    allows calls to ingest and recommend only; config.json names those services."""
    async with httpx.AsyncClient(follow_redirects=True) as client:
        page = await client.get(f"{stack.profile}/console")
        config = await client.get(f"{stack.profile}/console/config.json")
        script = await client.get(f"{stack.profile}/console/console.js")
    assert page.status_code == 200
    assert "<title>Touchpoint agent console</title>" in page.text
    policy = page.headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert set(directives["connect-src"].split()) == {"'self'", stack.ingest, stack.recommend}
    assert directives["script-src"] == "'self'"
    assert config.json() == {
        "ingest_url": stack.ingest,
        "recommend_url": stack.recommend,
        "profile_url": "",
    }
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]

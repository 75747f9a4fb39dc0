"""Every endpoint of the three services against every scope: 401, 403 naming the scope, 2xx."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.integration.access.conftest import KEY_CACHE_TTL_S, MakeToken
from tests.integration.keys import bearer
from touchpoint_common.access.dependencies import OPEN_PATHS
from touchpoint_common.access.models import ALL_SCOPES, Scope
from touchpoint_common.access.service import EVENT_POSTING_SCOPES
from touchpoint_profile.console.views import CONSOLE_PATH

pytestmark = pytest.mark.integration
Send = Callable[[httpx.AsyncClient, MakeToken, dict[str, str]], Awaitable[httpx.Response]]


def event(kind: str = "purchase", store_id: str = "12", **payload: Any) -> dict[str, Any]:
    """An event body as a till posts it (purchase by default)."""
    return {
        "event_id": str(uuid.uuid4()),
        "type": kind,
        "channel": "pos",
        "occurred_at": datetime.now(UTC).isoformat(),
        "customer": {"loyalty_id": f"L-{uuid.uuid4().hex[:12]}"},
        "store_id": store_id,
        "payload": payload
        or {
            "order_id": f"o-{uuid.uuid4().hex[:8]}",
            "amount": "12.00",
            "currency": "CNY",
            "items": [{"sku": "s", "category": "tea", "quantity": 1, "unit_price": "12.00"}],
        },
    }


async def _throwaway_key_id(make_token: MakeToken) -> str:
    token = await make_token({Scope.OPS_READ})
    return token.split("_")[1]


async def _put_config(
    client: httpx.AsyncClient, make_token: MakeToken, headers: dict[str, str]
) -> httpx.Response:
    answer = await client.get("/v1/admin/config", headers=bearer(await make_token()))
    document = answer.json()["config"]
    return await client.put("/v1/admin/config", json=document, headers=headers)


async def _rotate(
    client: httpx.AsyncClient, make_token: MakeToken, headers: dict[str, str]
) -> httpx.Response:
    key_id = await _throwaway_key_id(make_token)
    return await client.post(f"/v1/admin/keys/{key_id}/rotate", headers=headers)


async def _revoke(
    client: httpx.AsyncClient, make_token: MakeToken, headers: dict[str, str]
) -> httpx.Response:
    key_id = await _throwaway_key_id(make_token)
    return await client.delete(f"/v1/admin/keys/{key_id}", headers=headers)


def get(path: str, **params: Any) -> Send:
    """A GET of path with params."""

    async def send(client: httpx.AsyncClient, _: MakeToken, headers: dict[str, str]) -> Any:
        return await client.get(path, params=params, headers=headers)

    return send


def post(path: str, body: Any = None) -> Send:
    """A POST of a JSON body (a callable makes a fresh one per call)."""

    async def send(client: httpx.AsyncClient, _: MakeToken, headers: dict[str, str]) -> Any:
        value = body() if callable(body) else body
        return await client.post(path, json=value, headers=headers)

    return send


@dataclass(frozen=True)
class Endpoint:
    """One route: the scopes that open it (any of), a request to it, the answers expected."""

    service: str
    method: str
    path: str
    scopes: tuple[Scope, ...]
    send: Send
    expected: frozenset[int]


ADMIN_ROUTES = [
    ("GET", "/v1/admin/keys", get("/v1/admin/keys"), {200}),
    (
        "POST",
        "/v1/admin/keys",
        post("/v1/admin/keys", {"name": "made in the matrix", "scopes": ["ops:read"]}),
        {201},
    ),
    ("POST", "/v1/admin/keys/{key_id}/rotate", _rotate, {200}),
    ("DELETE", "/v1/admin/keys/{key_id}", _revoke, {204}),
    ("GET", "/v1/admin/audit", get("/v1/admin/audit"), {200}),
]
ENDPOINTS = [
    Endpoint(
        "ingest",
        "POST",
        "/v1/events",
        EVENT_POSTING_SCOPES,
        post("/v1/events", event),
        frozenset({202}),
    ),
    Endpoint(
        "ingest",
        "POST",
        "/v1/events/batch",
        EVENT_POSTING_SCOPES,
        post("/v1/events/batch", lambda: {"events": [event()]}),
        frozenset({200}),
    ),
    Endpoint(
        "profile",
        "GET",
        "/v1/customers/lookup",
        (Scope.PROFILES_READ,),
        get("/v1/customers/lookup", loyalty_id="L-nobody"),
        frozenset({404}),
    ),
    Endpoint(
        "profile",
        "GET",
        "/v1/customers/{customer_id}",
        (Scope.PROFILES_READ,),
        get("/v1/customers/c-nobody"),
        frozenset({404}),
    ),
    Endpoint(
        "profile",
        "GET",
        "/v1/customers/{customer_id}/timeline",
        (Scope.PROFILES_READ,),
        get("/v1/customers/c-nobody/timeline"),
        frozenset({404}),
    ),
    Endpoint(
        "profile",
        "GET",
        "/v1/customers/{customer_id}/live",
        (Scope.PROFILES_READ,),
        get("/v1/customers/c-nobody/live"),
        frozenset({404}),
    ),
    Endpoint(
        "profile",
        "POST",
        "/v1/admin/rankings/run",
        (Scope.ADMIN,),
        post("/v1/admin/rankings/run"),
        frozenset({200}),
    ),
    Endpoint(
        "profile",
        "GET",
        "/v1/worklist",
        (Scope.PROFILES_READ,),
        get("/v1/worklist"),
        frozenset({200}),
    ),
    Endpoint(
        "profile",
        "GET",
        "/v1/customers/{customer_id}/private",
        (Scope.PROFILES_READ_PII,),
        get("/v1/customers/c-nobody/private"),
        frozenset({404}),
    ),
    Endpoint(
        "profile",
        "GET",
        "/v1/figures/customers",
        (Scope.FIGURES_READ,),
        get("/v1/figures/customers"),
        frozenset({200, 404}),
    ),
    Endpoint(
        "recommend",
        "GET",
        "/v1/figures/offers",
        (Scope.FIGURES_READ,),
        get("/v1/figures/offers"),
        frozenset({200}),
    ),
    Endpoint(
        "recommend",
        "GET",
        "/v1/customers/lookup/next-offers",
        (Scope.OFFERS_READ,),
        get("/v1/customers/lookup/next-offers", loyalty_id="L-nobody", channel="pos"),
        frozenset({200}),
    ),
    Endpoint(
        "recommend",
        "GET",
        "/v1/customers/{customer_id}/next-offers",
        (Scope.OFFERS_READ,),
        get("/v1/customers/c-nobody/next-offers", channel="pos"),
        frozenset({200}),
    ),
    Endpoint(
        "recommend",
        "GET",
        "/v1/admin/config",
        (Scope.ADMIN,),
        get("/v1/admin/config"),
        frozenset({200}),
    ),
    Endpoint(
        "recommend",
        "GET",
        "/v1/admin/config/versions",
        (Scope.ADMIN,),
        get("/v1/admin/config/versions"),
        frozenset({200}),
    ),
    Endpoint(
        "recommend",
        "GET",
        "/v1/admin/config/status",
        (Scope.ADMIN,),
        get("/v1/admin/config/status"),
        frozenset({200}),
    ),
    Endpoint(
        "recommend",
        "POST",
        "/v1/admin/config/reload",
        (Scope.ADMIN,),
        post("/v1/admin/config/reload"),
        frozenset({200}),
    ),
    Endpoint("recommend", "PUT", "/v1/admin/config", (Scope.ADMIN,), _put_config, frozenset({200})),
    Endpoint(
        "recommend",
        "GET",
        "/v1/admin/learning/summary",
        (Scope.ADMIN,),
        get("/v1/admin/learning/summary"),
        frozenset({200}),
    ),
    *[
        Endpoint(
            service,
            "GET",
            "/v1/ops/lag",
            (Scope.OPS_READ,),
            get("/v1/ops/lag"),
            frozenset({200, 503}),
        )
        for service in ("ingest", "profile", "recommend")
    ],
    *[
        Endpoint(service, method, path, (Scope.ADMIN,), send, frozenset(expected))
        for service in ("ingest", "profile", "recommend")
        for method, path, send, expected in ADMIN_ROUTES
    ],
]


def _name(endpoint: Endpoint) -> str:
    return f"{endpoint.service} {endpoint.method} {endpoint.path}"


def test_every_route_is_in_the_matrix(services: dict[str, FastAPI]) -> None:
    """Every route of every service (but health, metrics, docs and the console's open files)
    has a row: a new route fails."""
    listed = {(e.service, e.method, e.path) for e in ENDPOINTS}
    for service, app in services.items():
        for path, operations in app.openapi()["paths"].items():
            if path in OPEN_PATHS or path.startswith(f"{CONSOLE_PATH}/"):
                continue
            for method in operations:
                assert (service, method.upper(), path) in listed, f"{service} {method} {path}"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_name)
async def test_endpoint_refuses_without_a_key_and_outside_its_scope(
    endpoint: Endpoint, clients: dict[str, httpx.AsyncClient], make_token: MakeToken
) -> None:
    """No key or a bogus one: 401 with WWW-Authenticate; every other scope: 403 naming it;
    a key with just that scope: the expected answer."""
    client = clients[endpoint.service]
    for headers in ({}, bearer("tp_0000_nope"), {"Authorization": "Basic abc"}):
        refused = await endpoint.send(client, make_token, headers)
        assert refused.status_code == 401, refused.text
        assert refused.headers["www-authenticate"].startswith("Bearer")
    others = await make_token(ALL_SCOPES - set(endpoint.scopes))
    forbidden = await endpoint.send(client, make_token, bearer(others))
    assert forbidden.status_code == 403, forbidden.text
    assert str(endpoint.scopes[0]) in forbidden.json()["detail"]
    allowed = await make_token({endpoint.scopes[0]})
    answered = await endpoint.send(client, make_token, bearer(allowed))
    assert answered.status_code in endpoint.expected, answered.text


@pytest.mark.parametrize(
    ("kind", "scope"),
    [
        ("identify", Scope.IDENTITY_LINK),
        ("unmerge", Scope.IDENTITY_LINK),
        ("erase", Scope.EVENTS_ERASE),
    ],
)
async def test_each_sensitive_event_type_needs_its_scope(
    kind: str, scope: Scope, clients: dict[str, httpx.AsyncClient], make_token: MakeToken
) -> None:
    """An events:write key cannot post identify (link, merge), unmerge or erase: 403 naming
    the scope."""
    writer = bearer(await make_token({Scope.EVENTS_WRITE}))
    refused = await clients["ingest"].post("/v1/events", json=event(kind), headers=writer)
    assert refused.status_code == 403, refused.text
    assert str(scope) in refused.json()["detail"]


async def test_offer_responses_need_offers_respond(
    clients: dict[str, httpx.AsyncClient], make_token: MakeToken
) -> None:
    """offer_response is refused to an events:write key and reaches validation with
    offers:respond (an empty payload is then 422, not 403)."""
    body = event("offer_response", offer_id="x")
    writer = bearer(await make_token({Scope.EVENTS_WRITE}))
    responder = bearer(await make_token({Scope.OFFERS_RESPOND}))
    refused = await clients["ingest"].post("/v1/events", json=body, headers=writer)
    assert refused.status_code == 403
    assert "offers:respond" in refused.json()["detail"]
    passed = await clients["ingest"].post("/v1/events", json=body, headers=responder)
    assert passed.status_code not in (401, 403), passed.text


async def test_a_till_key_posts_only_its_stores_and_its_event_types(
    clients: dict[str, httpx.AsyncClient], make_token: MakeToken
) -> None:
    """A till key (events:write, store 12, purchase/return) posts a store-12 purchase; another
    store, an identify, an erase or a page view is 403 saying why; a batch with one is too."""
    till = bearer(
        await make_token({Scope.EVENTS_WRITE}, store_ids=["12"], event_types=["purchase", "return"])
    )
    ingest = clients["ingest"]
    accepted = await ingest.post("/v1/events", json=event(), headers=till)
    assert accepted.status_code == 202, accepted.text
    for body, reason in (
        (event(store_id="99"), "own stores"),
        (event("identify"), "identity:link"),
        (event("erase"), "events:erase"),
        (event("page_view", url="https://shop.example/x"), "may not post page_view"),
    ):
        refused = await ingest.post("/v1/events", json=body, headers=till)
        assert refused.status_code == 403, refused.text
        assert reason in refused.json()["detail"]
    mixed = {"events": [event(), event(store_id="99")]}
    batch = await ingest.post("/v1/events/batch", json=mixed, headers=till)
    assert batch.status_code == 403
    assert batch.json()["detail"].startswith("event 1:")


async def test_a_revoked_key_is_refused_within_the_cache_ttl(
    clients: dict[str, httpx.AsyncClient], make_token: MakeToken
) -> None:
    """A key that worked (so it is cached) is refused (401) within the TTL after revocation."""
    token = await make_token({Scope.OPS_READ})
    admin = bearer(await make_token({Scope.ADMIN}))
    profile = clients["profile"]
    assert (await profile.get("/v1/admin/keys", headers=admin)).status_code == 200
    assert (await profile.get("/v1/ops/lag", headers=bearer(token))).status_code in (200, 503)
    revoked = await profile.delete(f"/v1/admin/keys/{token.split('_')[1]}", headers=admin)
    assert revoked.status_code == 204
    deadline = asyncio.get_running_loop().time() + KEY_CACHE_TTL_S + 1.0
    while True:
        answer = await profile.get("/v1/ops/lag", headers=bearer(token))
        if answer.status_code == 401:
            break
        assert asyncio.get_running_loop().time() < deadline, "revoked key still accepted"
        await asyncio.sleep(0.1)
    listed = await profile.get("/v1/admin/keys", headers=admin)
    assert token.split("_")[1] not in {key["key_id"] for key in listed.json()}


async def test_rate_limit_is_429_with_retry_after(
    clients: dict[str, httpx.AsyncClient], make_token: MakeToken
) -> None:
    """A key limited to 3 requests a second gets 429 with Retry-After on a quick burst."""
    slow = bearer(await make_token({Scope.ADMIN}, rate_per_second=3))
    answers = [await clients["recommend"].get("/v1/admin/keys", headers=slow) for _ in range(8)]
    limited = [answer for answer in answers if answer.status_code == 429]
    assert limited, [answer.status_code for answer in answers]
    assert int(limited[0].headers["retry-after"]) >= 1


async def test_profile_reads_are_audited_without_personal_data(
    clients: dict[str, httpx.AsyncClient], make_token: MakeToken
) -> None:
    """A profile read leaves (key id, customer id, fields, time) in the audit log, which admin
    can query by key and customer, and which holds no identifier value."""
    body = event()
    loyalty_id = body["customer"]["loyalty_id"]
    writer = bearer(await make_token({Scope.EVENTS_WRITE}))
    assert (await clients["ingest"].post("/v1/events", json=body, headers=writer)).is_success
    reader_token = await make_token({Scope.PROFILES_READ})
    reader = bearer(reader_token)
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        found = await clients["profile"].get(
            "/v1/customers/lookup", params={"loyalty_id": loyalty_id}, headers=reader
        )
        if found.status_code == 200:
            break
        assert asyncio.get_running_loop().time() < deadline, found.text
        await asyncio.sleep(0.2)
    customer_id = found.json()["customer_id"]
    key_id = reader_token.split("_")[1]
    admin = bearer(await make_token({Scope.ADMIN}))
    audit = await clients["recommend"].get(
        "/v1/admin/audit", params={"key_id": key_id, "customer_id": customer_id}, headers=admin
    )
    assert audit.status_code == 200, audit.text
    [entry] = audit.json()
    assert entry["action"] == "profile.lookup.loyalty_id"
    assert entry["fields"] == ["identifiers.masked", "figures"]
    assert loyalty_id not in audit.text

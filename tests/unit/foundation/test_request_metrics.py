"""RequestMetricsMiddleware (plain ASGI): request ids echoed, requests counted by template."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from touchpoint_common.observability.metrics import HTTP_REQUESTS, RequestMetricsMiddleware


def _app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(RequestMetricsMiddleware, service="metrics-test")

    @app.get("/items/{item_id}")
    async def item(item_id: str) -> dict[str, str]:
        return {"item": item_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    return app


def _count(route: str, status: str) -> float:
    value = HTTP_REQUESTS.labels("metrics-test", "GET", route, status)._value.get()
    return float(value)


def test_request_id_is_echoed_or_made_and_requests_counted_by_template() -> None:
    """A given x-request-id comes back, a missing one is made; the counter uses the route
    template (never the raw path) and the final status, 500 included for a crash."""
    client = TestClient(_app(), raise_server_exceptions=False)
    before = _count("/items/{item_id}", "200"), _count("/boom", "500")
    given = client.get("/items/7", headers={"x-request-id": "abc"})
    made = client.get("/items/8")
    crashed = client.get("/boom")
    assert given.headers["x-request-id"] == "abc"
    assert len(made.headers["x-request-id"]) == 32
    assert crashed.status_code == 500
    assert _count("/items/{item_id}", "200") == before[0] + 2
    assert _count("/boom", "500") == before[1] + 1

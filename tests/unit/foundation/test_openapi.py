"""The app factory's OpenAPI additions and its 405: pure, on small documents and apps."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from touchpoint_common.openapi import Rfc3339, add_shared_responses, method_not_allowed


def operation(**extra: Any) -> dict[str, Any]:
    """A bare operation with a 200, plus the given keys."""
    return {"responses": {"200": {"description": "OK"}}, **extra}


def test_a_guarded_operation_documents_the_guard_with_its_headers_and_body() -> None:
    """401 with WWW-Authenticate, 403, 429 and 503 with Retry-After, each with the Problem
    body; a route's own 503 keeps its words and gains the header."""
    guarded = operation(
        security=[{"HTTPBearer": []}], responses={"503": {"description": "broker down"}}
    )
    add_shared_responses(guarded)
    responses = guarded["responses"]
    assert set(responses) == {"401", "403", "429", "503"}
    assert responses["401"]["headers"]["WWW-Authenticate"]["required"] is True
    assert "Retry-After" in responses["429"]["headers"]
    assert responses["503"]["description"] == "broker down"
    assert "Retry-After" in responses["503"]["headers"]
    schema = responses["403"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["detail"]


def test_bodies_get_400_and_path_parameters_get_404_open_routes_no_guard() -> None:
    """A body may be malformed JSON (400), a path may name nothing (404); an unguarded
    operation gets no 401/403/429."""
    open_operation = operation(
        requestBody={"content": {}}, parameters=[{"in": "path", "name": "customer_id"}]
    )
    add_shared_responses(open_operation)
    assert set(open_operation["responses"]) == {"200", "400", "404"}


async def test_405_allows_every_method_of_the_path() -> None:
    """Starlette names one route's methods; the handler lists all of the path's."""
    app = FastAPI()

    @app.get("/keys")
    async def list_keys() -> list[str]:
        return []

    @app.post("/keys")
    async def create_key() -> str:
        return "made"

    app.add_exception_handler(StarletteHTTPException, method_not_allowed)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        answer = await client.delete("/keys")
        missing = await client.get("/nothing")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, POST"
    assert missing.status_code == 404


class Since(BaseModel):
    """A model with one RFC 3339 field."""

    since: Rfc3339


@pytest.mark.parametrize("text", ["0.5", "2026-11-01", "2026-11-01T10:00:00", "1700000000"])
def test_rfc3339_refuses_what_date_time_forbids(text: str) -> None:
    """Unix seconds, a date alone, a time without offset: refused (pydantic alone takes them)."""
    with pytest.raises(ValidationError):
        Since.model_validate({"since": text})


def test_rfc3339_takes_a_date_time_with_offset() -> None:
    """The RFC 3339 forms with Z or an offset are taken."""
    for text in ("2026-11-01T10:00:00Z", "2026-11-01T10:00:00.250+08:00"):
        assert Since.model_validate({"since": text}).since.tzinfo is not None

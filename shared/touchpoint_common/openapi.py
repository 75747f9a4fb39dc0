"""The OpenAPI every service publishes, made true once for all routes by the app factory.

FastAPI documents what a route declares; the shared mechanisms answer more than that (the
access guard's 401/403/429, the database error policy's 503, malformed JSON's 400, a path's
unknown resource 404). `complete_openapi` adds those answers, with their headers and error
bodies, to every operation that can give them, so clients generated from the document and
schemathesis (`tests/integration/contracts`) see what the services really do.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import FastAPI
from fastapi.exception_handlers import http_exception_handler
from fastapi.openapi.utils import get_openapi
from pydantic import AwareDatetime, BaseModel, BeforeValidator
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match

Operation = dict[str, Any]
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
"""The body of every plain error (`{"detail": "..."}`)."""
_PROBLEM_CONTENT = {"application/json": {"schema": PROBLEM_SCHEMA}}
RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}
CHALLENGE_HEADER = {
    "WWW-Authenticate": {
        "description": 'The scheme to authenticate with: `Bearer realm="touchpoint"`.',
        "required": True,
        "schema": {"type": "string"},
    }
}
GUARDED_RESPONSES: dict[str, dict[str, Any]] = {
    "401": {
        "description": "No API key, or an unknown or revoked one.",
        "headers": CHALLENGE_HEADER,
    },
    "403": {"description": "The key lacks the scope (named in the body), store or event type."},
    "429": {"description": "Over the key's rate limit.", "headers": RETRY_AFTER_HEADER},
    "503": {
        "description": "The database (or the broker) cannot answer now; nothing was changed.",
        "headers": RETRY_AFTER_HEADER,
    },
}
"""What every guarded operation may answer besides its own codes (the guard, the db policy)."""
BODY_RESPONSES: dict[str, dict[str, Any]] = {
    "400": {"description": "The body is not valid JSON."},
}
PATH_RESPONSES: dict[str, dict[str, Any]] = {
    "404": {"description": "Nothing is known under this path (no such customer, key, ...)."},
}
EXTRA_PATHS_STATE = "openapi_extra_paths"
"""app.state attribute: paths served outside the routers (mounts), documented as given."""


def complete_openapi(
    app: FastAPI, *, models: Sequence[type[BaseModel]] = ()
) -> Callable[[], dict[str, Any]]:
    """The app's `openapi()`: FastAPI's document with the shared answers added and `models`
    among the components, cached."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = document.setdefault("components", {}).setdefault("schemas", {})
            for model in models:
                model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(model_schema.pop("$defs", {}))
                components[model.__name__] = model_schema
            for operation in _operations(document):
                add_shared_responses(operation)
            document["paths"].update(copy.deepcopy(getattr(app.state, EXTRA_PATHS_STATE, {})))
            app.openapi_schema = document
        return app.openapi_schema

    return openapi


def _operations(document: dict[str, Any]) -> list[Operation]:
    """Every operation of the document."""
    return [
        operation
        for path_item in document.get("paths", {}).values()
        for method, operation in path_item.items()
        if method in HTTP_METHODS
    ]


def add_shared_responses(operation: Operation) -> None:
    """Adds the answers the shared mechanisms give this operation, and their error bodies."""
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if operation.get("security"):
        _merge(responses, GUARDED_RESPONSES)
    if "requestBody" in operation:
        _merge(responses, BODY_RESPONSES)
    if any(parameter.get("in") == "path" for parameter in operation.get("parameters", [])):
        _merge(responses, PATH_RESPONSES)
    for code, response in responses.items():
        if code.startswith(("4", "5")) and "content" not in response:
            response["content"] = copy.deepcopy(_PROBLEM_CONTENT)
        if code in {"429", "503"} and operation.get("security"):
            response.setdefault("headers", {}).update(RETRY_AFTER_HEADER)


def _merge(responses: dict[str, Any], shared: dict[str, dict[str, Any]]) -> None:
    """Adds each shared answer; where the route documents the code, adds only its headers."""
    for code, response in shared.items():
        if code in responses:
            if "headers" in response:
                responses[code].setdefault("headers", {}).update(response["headers"])
        else:
            responses[code] = copy.deepcopy(response)


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    """405 whose Allow lists every method of the path (Starlette names only one route's)."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code != 405:
        return await http_exception_handler(request, exc)
    allowed: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        methods = getattr(route, "methods", None)
        if match is not Match.NONE and methods:
            allowed |= set(methods)
    return JSONResponse(
        {"detail": exc.detail},
        status_code=405,
        headers={"Allow": ", ".join(sorted(allowed))},
    )


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def _rfc3339_only(value: object) -> object:
    """Refuses what pydantic's lax datetime would take but `format: date-time` forbids
    (Unix seconds such as `0.5`, a date alone, a time without its offset)."""
    if isinstance(value, str) and not _RFC3339.fullmatch(value):
        raise ValueError("an RFC 3339 date-time with its offset is required")
    return value


Rfc3339 = Annotated[AwareDatetime, BeforeValidator(_rfc3339_only)]
"""A date-time query parameter that accepts exactly what its OpenAPI `format` says."""

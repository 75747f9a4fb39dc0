"""The FastAPI application factory every service uses: ops endpoints, metrics, error shapes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from touchpoint_common.access.audit import close_audit
from touchpoint_common.access.views import router as access_router
from touchpoint_common.access.views import unguarded_paths
from touchpoint_common.db.errors import is_retryable
from touchpoint_common.observability.health import get_health_router
from touchpoint_common.observability.logging import configure_logging
from touchpoint_common.observability.metrics import RequestMetricsMiddleware, get_metrics_router
from touchpoint_common.observability.tracing import (
    configure_tracing,
    instrument_app,
    shutdown_tracing,
)
from touchpoint_common.openapi import complete_openapi, method_not_allowed
from touchpoint_common.runtime import Runtime

logger = logging.getLogger(__name__)
DATABASE_RETRY_AFTER_S = 2
Hook = Callable[[FastAPI], Awaitable[None]]


def create_service_app(
    *,
    title: str,
    description: str,
    runtime: Runtime,
    routers: Sequence[APIRouter],
    on_startup: Hook | None = None,
    on_shutdown: Hook | None = None,
    openapi_models: Sequence[type[BaseModel]] = (),
) -> FastAPI:
    """A service app with /healthz, /readyz, /metrics, /docs, key admin and JSON errors.

    Every other route must declare a `require_scopes` guard, or the app refuses to be built.
    Its OpenAPI documents the answers the shared mechanisms give (`touchpoint_common.openapi`),
    and lists `openapi_models` among its components (bodies a view parses by hand).
    """
    settings = runtime.settings
    configure_logging(
        service=settings.service_name, level=settings.log_level, json=settings.log_json
    )
    configure_tracing(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        if on_startup is not None:
            await on_startup(app)
        try:
            yield
        finally:
            if on_shutdown is not None:
                await on_shutdown(app)
            await close_audit(app)
            await runtime.stop()
            shutdown_tracing()

    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan)
    app.state.runtime = runtime
    app.add_middleware(RequestMetricsMiddleware, service=settings.service_name)
    if settings.cors_allowed_origins:
        # The agent console calls ingest and recommend from the profile's origin with its key
        # in the Authorization header (never a cookie), so no credentials mode is needed.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allowed_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["Retry-After"],
            max_age=600,
        )
    instrument_app(app)
    app.include_router(get_health_router(runtime.readiness_checks(), service=settings.service_name))
    app.include_router(get_metrics_router())
    unguarded = unguarded_paths([*routers, access_router])
    if unguarded:
        raise RuntimeError(f"routes without an access guard (require_scopes): {unguarded}")
    for router in [*routers, access_router]:
        app.include_router(router)
    app.openapi = complete_openapi(app, models=openapi_models)  # type: ignore[method-assign]
    app.add_exception_handler(StarletteHTTPException, method_not_allowed)

    async def database_error(request: Request, exc: Exception) -> JSONResponse:
        if not is_retryable(exc):
            return await unexpected(request, exc)
        # The one error policy: the database cannot answer now (down, pool exhausted, race).
        logger.warning(
            "database unavailable", extra={"route": request.url.path, "error": type(exc).__name__}
        )
        return JSONResponse(
            {"detail": "database unavailable, try again"},
            status_code=503,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
        )

    app.add_exception_handler(SQLAlchemyError, database_error)
    app.add_exception_handler(OSError, database_error)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", extra={"route": request.url.path})
        return JSONResponse({"detail": "internal error"}, status_code=500)

    return app


def get_field_error(
    loc: Sequence[str | int], message: str, kind: str = "value_error"
) -> HTTPException:
    """A 422 naming the input at fault (`loc`: "query"/"body"/"path", then the field), in
    FastAPI's own error shape, the one every 422 of the OpenAPI documents."""
    detail = [{"loc": list(loc), "msg": message, "type": kind}]
    return HTTPException(status_code=422, detail=detail)


def get_query_error(field: str, message: str) -> HTTPException:
    """A 422 naming the query parameter at fault, in FastAPI's own error shape."""
    return get_field_error(["query", field], message)


def get_model_response(model: BaseModel, *, status_code: int = 200) -> Response:
    """The model as JSON, serialised once by pydantic (a route returning its model would have
    FastAPI dump it, validate it again against the response_model and encode it: measured at
    ~2x the cost of this for a customer view). The route keeps response_model for its schema."""
    return Response(
        content=model.model_dump_json(by_alias=True),
        status_code=status_code,
        media_type="application/json",
    )


def get_runtime(request: Request) -> Runtime:
    """FastAPI dependency: the service's Runtime."""
    runtime: Runtime = request.app.state.runtime
    return runtime

"""Serves the console's files and /console/config.json (where ingest and recommend are).

The files and the config hold no customer data, so they are open like /docs; everything the
page shows comes from the guarded APIs, called with the agent's key from the browser.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from touchpoint_common.openapi import EXTRA_PATHS_STATE
from touchpoint_profile.settings import ProfileSettings

STATIC_DIR = Path(__file__).parent / "static"
CONSOLE_PATH = "/console"


def get_console_headers(settings: ProfileSettings) -> dict[str, str]:
    """Headers for every console file: scripts only from here, calls only to the services."""
    services = " ".join(sorted({settings.console_ingest_url, settings.console_recommend_url}))
    policy = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {services}; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-cache",
    }


class _ConsoleHeaders(BaseHTTPMiddleware):
    """Adds the console's security headers to each answer."""

    def __init__(self, app: ASGIApp, headers: dict[str, str]) -> None:
        super().__init__(app)
        self._headers = headers

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        """Answer, then add the headers."""
        response = await call_next(request)
        response.headers.update(self._headers)
        return response


def create_console_app(settings: ProfileSettings) -> Starlette:
    """The console's files and config.json, as a sub-application."""
    config = {
        "ingest_url": settings.console_ingest_url.rstrip("/"),
        "recommend_url": settings.console_recommend_url.rstrip("/"),
        "profile_url": "",
    }

    async def get_config(request: Request) -> JSONResponse:
        """Where the page finds ingest and recommend (the profile is its own origin)."""
        return JSONResponse(config)

    return Starlette(
        routes=[
            Route("/config.json", get_config),
            Mount("/", StaticFiles(directory=STATIC_DIR, html=True)),
        ],
        middleware=[Middleware(_ConsoleHeaders, headers=get_console_headers(settings))],
    )


_CONSOLE_OPENAPI = {
    f"{CONSOLE_PATH}/": {
        "get": {
            "tags": ["console"],
            "summary": "The agent console (a page; its calls carry the agent's key)",
            "responses": {
                "200": {
                    "description": "The console's HTML page.",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                }
            },
        }
    },
    f"{CONSOLE_PATH}/config.json": {
        "get": {
            "tags": ["console"],
            "summary": "Where the console finds ingest and recommend",
            "responses": {
                "200": {
                    "description": "The services' base URLs (the profile's own: empty).",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    name: {"type": "string"}
                                    for name in ("ingest_url", "recommend_url", "profile_url")
                                },
                                "required": ["ingest_url", "recommend_url", "profile_url"],
                            }
                        }
                    },
                }
            },
        }
    },
}


def mount_console(app: FastAPI, settings: ProfileSettings) -> None:
    """Serve the console at /console (the app factory's guard covers API routes only) and
    document its page and config in the app's OpenAPI."""
    app.mount(CONSOLE_PATH, create_console_app(settings), name="console")
    setattr(app.state, EXTRA_PATHS_STATE, _CONSOLE_OPENAPI)

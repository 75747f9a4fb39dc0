"""The three services behind real HTTP (uvicorn in the test's loop) and a headless chromium.

The browser needs real origins (CORS from the console's origin to ingest and recommend), so
the apps of `tests.integration.services` are served by uvicorn on free ports of 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import uvicorn

from tests.integration.keys import create_token
from tests.integration.services import create_service_apps
from touchpoint_common.access.models import Scope
from touchpoint_common.settings import CommonSettings

CHROMIUM = Path("/usr/bin/chromium")
AGENT_SCOPES = (
    Scope.PROFILES_READ,
    Scope.PROFILES_READ_PII,
    Scope.OFFERS_READ,
    Scope.EVENTS_WRITE,
    Scope.OFFERS_RESPOND,
)
"""The agent preset of docs/security.md."""
STARTUP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Stack:
    """Where the running services answer."""

    ingest: str
    profile: str
    recommend: str

    @property
    def console(self) -> str:
        """The console's address (served by the profile service)."""
        return f"{self.profile}/console/"


def _listening_socket() -> socket.socket:
    """A socket bound to a free port of 127.0.0.1 (given to uvicorn: no port race)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def stack(settings: CommonSettings, tmp_path_factory: Any) -> AsyncIterator[Stack]:
    """Ingest, profile (with the console) and recommend served over HTTP, CORS open to the
    console's origin, until the session ends."""
    sockets = {name: _listening_socket() for name in ("ingest", "profile", "recommend")}
    urls = {name: f"http://127.0.0.1:{sock.getsockname()[1]}" for name, sock in sockets.items()}
    origins = [urls["profile"]]
    apps = create_service_apps(
        settings,
        tmp_path_factory.mktemp("console"),
        ingest={"cors_allowed_origins": origins},
        profile={
            "console_ingest_url": urls["ingest"],
            "console_recommend_url": urls["recommend"],
            "live_heartbeat_s": 1.0,
        },
        recommend={"cors_allowed_origins": origins},
    )
    servers = {
        name: uvicorn.Server(
            uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False)
        )
        for name, app in apps.items()
    }
    tasks = [
        asyncio.create_task(servers[name].serve(sockets=[sockets[name]]), name=f"serve-{name}")
        for name in servers
    ]
    try:
        async with asyncio.timeout(STARTUP_TIMEOUT_S):
            while not all(server.started for server in servers.values()):
                failed = [task for task in tasks if task.done()]
                if failed:
                    failed[0].result()
                    raise RuntimeError(f"{failed[0].get_name()} stopped while starting")
                await asyncio.sleep(0.05)
        yield Stack(**urls)
    finally:
        for server in servers.values():
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        for sock in sockets.values():
            sock.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def writer_token(settings: CommonSettings) -> str:
    """A till-like key that posts the test's events through ingest."""
    return await create_token(
        settings.database_url, {Scope.EVENTS_WRITE, Scope.OFFERS_RESPOND}, name="till"
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def agent_token(settings: CommonSettings) -> str:
    """An agent key (the documented preset)."""
    return await create_token(settings.database_url, AGENT_SCOPES, name="agent ann")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def second_agent_token(settings: CommonSettings) -> str:
    """A second agent's key, for 'one voice' across agents."""
    return await create_token(settings.database_url, AGENT_SCOPES, name="agent bo")


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Debian's chromium; the browser tests skip (saying why) when it is not installed."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium to run the console tests")
    return CHROMIUM


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser(chromium_path: Path) -> AsyncIterator[Any]:
    """One headless chromium for the session (Playwright drives the installed binary)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(chromium_path))
        try:
            yield launched
        finally:
            await launched.close()

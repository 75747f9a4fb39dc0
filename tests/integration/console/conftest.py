"""The three services behind real HTTP (uvicorn in the test's loop) and a headless chromium.

The browser needs real origins (CORS from the console's origin to ingest and recommend), so
the apps of `tests.integration.services` are served by uvicorn on free ports of 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.integration.keys import create_token
from tests.integration.services import create_service_apps, reserve_urls
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


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def stack(settings: CommonSettings, tmp_path_factory: Any) -> AsyncIterator[Stack]:
    """Ingest, profile (with the console) and recommend served over HTTP, CORS open to the
    console's origin, until the session ends."""
    async with reserve_urls(["ingest", "profile", "recommend"]) as (urls, serve):
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
        async with serve(apps):
            yield Stack(**urls)


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

"""The three service apps on the session's real servers, built as the services build them."""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from touchpoint_common.settings import CommonSettings
from touchpoint_ingest.main import create_app as create_ingest_app
from touchpoint_ingest.settings import IngestSettings
from touchpoint_profile.main import create_app as create_profile_app
from touchpoint_profile.settings import ProfileSettings
from touchpoint_recommend.loader import DEFAULT_CONFIG_PATH
from touchpoint_recommend.main import create_app as create_recommend_app
from touchpoint_recommend.settings import RecommendSettings


def _fields(settings: CommonSettings, **overrides: Any) -> dict[str, Any]:
    fields = settings.model_dump()
    fields.update(overrides)
    return fields


def create_service_apps(
    settings: CommonSettings,
    workdir: Path,
    *,
    ingest: dict[str, Any] | None = None,
    profile: dict[str, Any] | None = None,
    recommend: dict[str, Any] | None = None,
) -> dict[str, FastAPI]:
    """Ingest, profile (fold consumer inside, quick batches) and recommend (learner inside, a
    private copy of the default config in `workdir`), each with extra settings if given."""
    config_path = workdir / "recommend.yaml"
    shutil.copyfile(DEFAULT_CONFIG_PATH, config_path)
    return {
        "ingest": create_ingest_app(
            IngestSettings(**_fields(settings, service_name="ingest", **(ingest or {})))
        ),
        "profile": create_profile_app(
            ProfileSettings(
                **_fields(
                    settings,
                    service_name="profile",
                    consumer_batch_timeout_ms=100,
                    # A ranking would grade every later test's views in the shared database.
                    ranking_min_window_buyers=10**9,
                    **(profile or {}),
                )
            )
        ),
        "recommend": create_recommend_app(
            RecommendSettings(
                **_fields(
                    settings,
                    service_name="recommend",
                    recommend_config_path=config_path,
                    learner_batch_timeout_ms=100,
                    **(recommend or {}),
                )
            )
        ),
    }


STARTUP_TIMEOUT_S = 60.0


def _listening_socket() -> socket.socket:
    """A socket bound to a free port of 127.0.0.1 (given to uvicorn: no port race)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


@asynccontextmanager
async def reserve_urls(names: list[str]) -> AsyncIterator[tuple[dict[str, str], Any]]:
    """Free ports for the named apps, their URLs known before the apps are built; yields the
    URLs and `serve(apps)`, an async context manager serving the apps over real HTTP (uvicorn
    in the caller's loop) on those ports until it exits."""
    sockets = {name: _listening_socket() for name in names}
    urls = {name: f"http://127.0.0.1:{sock.getsockname()[1]}" for name, sock in sockets.items()}

    @asynccontextmanager
    async def serve(apps: dict[str, FastAPI]) -> AsyncIterator[None]:
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
            yield
        finally:
            for server in servers.values():
                server.should_exit = True
            await asyncio.gather(*tasks, return_exceptions=True)

    try:
        yield urls, serve
    finally:
        for sock in sockets.values():
            sock.close()

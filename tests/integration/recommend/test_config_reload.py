"""Config changes without a restart, stored in PostgreSQL with version and author: a PUT on
one instance reaches another on the same database; a bad config is refused by name and the old
one stays; the seed file is never written."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.recommend.conftest import new_loyalty_id, next_offers, wait_until
from touchpoint_recommend.configuration.service import SEED_AUTHOR
from touchpoint_recommend.loader import DEFAULT_CONFIG_PATH, load_default_config
from touchpoint_recommend.main import create_app
from touchpoint_recommend.settings import RecommendSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
Apps = dict[str, httpx.AsyncClient]
AUTHOR = {"X-Touchpoint-Author": "test-admin"}


def key_id_of(client: httpx.AsyncClient) -> str:
    """The id of the API key a client sends (tokens are tp_<id>_<secret>)."""
    return client.headers["Authorization"].removeprefix("Bearer ").split("_")[1]


def _contents(*paths: Path) -> list[str]:
    """The text of each file (to show none was written)."""
    return [path.read_text() for path in paths]


async def _status(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/v1/admin/config/status")
    assert response.status_code == 200
    status: dict[str, Any] = response.json()
    return status


async def _document(client: httpx.AsyncClient) -> dict[str, Any]:
    config: dict[str, Any] = (await client.get("/v1/admin/config")).json()["config"]
    return config


@contextlib.asynccontextmanager
async def _another_instance(
    settings: RecommendSettings, *, poll_s: float, headers: httpx.Headers
) -> AsyncIterator[httpx.AsyncClient]:
    """A second recommend app on the same database (no learner: one is enough)."""
    app = create_app(
        settings.model_copy(update={"recommend_config_poll_s": poll_s, "learner_enabled": False})
    )
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://second", headers=headers
        ) as client:
            yield client


@contextlib.asynccontextmanager
async def _restoring(client: httpx.AsyncClient) -> AsyncIterator[dict[str, Any]]:
    """The config in force as data; stored again as the newest version afterwards."""
    original = await _document(client)
    try:
        yield await _document(client)
    finally:
        restored = await client.put("/v1/admin/config", json=original, headers=AUTHOR)
        assert restored.status_code == 200, restored.text


async def test_the_seed_is_version_one_from_the_packaged_file(apps: Apps, db: AsyncEngine) -> None:
    """The app seeded the empty table with the packaged default.yaml as version 1."""
    assert (await _status(apps["recommend"]))["revision"] >= 1
    async with db.connect() as connection:
        row = (
            await connection.execute(
                text("SELECT author, fingerprint FROM recommend_config_versions WHERE version = 1")
            )
        ).one()
    assert row.author == SEED_AUTHOR
    assert row.fingerprint == load_default_config().fingerprint()


async def test_invalid_config_is_refused_and_old_one_stays(apps: Apps) -> None:
    """PUT with an unknown offer id: 422 naming it; nothing stored; decisions keep working."""
    client = apps["recommend"]
    before = await _status(client)
    document = await _document(client)
    document["strategies"][0].setdefault("offers", []).append("no-such")
    response = await client.put("/v1/admin/config", json=document, headers=AUTHOR)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body"]
    detail = error["msg"]
    assert "unknown offer id 'no-such'" in detail
    assert f"version {before['version']} stays in force" in detail
    after = await _status(client)
    assert (after["version"], after["revision"]) == (before["version"], before["revision"])
    assert "no-such" in after["last_error"]
    answer = await next_offers(apps, new_loyalty_id(), channel="pos")
    assert answer["config_version"] == before["version"]


async def test_put_on_one_instance_is_seen_by_another(
    apps: Apps, recommend_settings: RecommendSettings, recommend_config_path: Path
) -> None:
    """A PUT on the first app is stored as the next version with its author; a second app on
    the same database puts it in force by its poll; no file is written."""
    first = apps["recommend"]
    files_before = _contents(recommend_config_path, DEFAULT_CONFIG_PATH)
    async with _another_instance(recommend_settings, poll_s=0.2, headers=first.headers) as second:
        before = await _status(first)
        assert (await _status(second))["revision"] == before["revision"]
        async with _restoring(first) as document:
            document["catalogue"][3].update(title="Join today: a free coffee and 10% off")
            response = await first.put("/v1/admin/config", json=document, headers=AUTHOR)
            assert response.status_code == 200, response.text
            stored = response.json()["status"]
            assert stored["revision"] == before["revision"] + 1
            assert stored["author"] == key_id_of(first)

            async def second_caught_up() -> bool:
                return bool((await _status(second))["revision"] == stored["revision"])

            await wait_until(second_caught_up, what="the second instance's poll", timeout_s=10)
            assert (await _status(second))["version"] == stored["version"]
            titles = {o["id"]: o["title"] for o in (await _document(second))["catalogue"]}
            assert titles["join-today"] == "Join today: a free coffee and 10% off"

            versions = (await first.get("/v1/admin/config/versions")).json()
            newest = versions[0]
            assert newest["version"] == stored["revision"]
            assert newest["author"] == key_id_of(first)
            assert newest["fingerprint"] == stored["version"]
            assert newest["created_at"]
    assert _contents(recommend_config_path, DEFAULT_CONFIG_PATH) == files_before


async def test_reload_puts_the_newest_stored_version_in_force_at_once(
    apps: Apps, recommend_settings: RecommendSettings
) -> None:
    """An instance that does not poll keeps its version until POST .../reload, which puts the
    newest stored version in force for the very next answer."""
    first = apps["recommend"]
    async with (
        _another_instance(recommend_settings, poll_s=0, headers=first.headers) as second,
        _restoring(first) as document,
    ):
        document["holdout"]["share"] = 0.25
        stored = (await first.put("/v1/admin/config", json=document, headers=AUTHOR)).json()
        assert (await _status(second))["revision"] < stored["status"]["revision"]
        response = await second.post("/v1/admin/config/reload")
        assert response.status_code == 200
        assert response.json()["changed"] is True
        assert response.json()["status"]["revision"] == stored["status"]["revision"]
        assert (await _document(second))["holdout"]["share"] == 0.25


async def test_a_put_is_recorded_under_the_callers_key(apps: Apps, db: AsyncEngine) -> None:
    """Without an author header the version's author is the caller's key id, never empty."""
    client = apps["recommend"]
    async with _restoring(client) as document:
        document["contact_policy"]["rejection_suppression_days"] = 30
        accepted = await client.put("/v1/admin/config", json=document)
        assert accepted.status_code == 200
        revision = accepted.json()["status"]["revision"]
        async with db.connect() as connection:
            author = await connection.scalar(
                text("SELECT author FROM recommend_config_versions WHERE version = :v"),
                {"v": revision},
            )
        assert author == key_id_of(client)
        assert (await _document(client))["contact_policy"]["rejection_suppression_days"] == 30

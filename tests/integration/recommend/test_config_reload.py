"""Config changes without a restart; a bad config is refused by name and the old one stays."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.integration.recommend.conftest import new_loyalty_id, next_offers, wait_until

pytestmark = pytest.mark.integration
Apps = dict[str, httpx.AsyncClient]


def _read(path: Path) -> str:
    return path.read_text()


def _write(path: Path, text: str) -> None:
    path.write_text(text)


def _edit(path: Path, change: Any) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


async def _version(client: httpx.AsyncClient) -> str:
    response = await client.get("/v1/admin/config/status")
    assert response.status_code == 200
    version: str = response.json()["version"]
    return version


async def test_invalid_config_is_refused_and_old_one_stays(
    apps: Apps, recommend_config_path: Path
) -> None:
    """Reloading a file with an unknown offer id: 422 naming it; decisions keep working."""
    client = apps["recommend"]
    original = _read(recommend_config_path)
    before = await _version(client)
    try:
        _edit(
            recommend_config_path,
            lambda d: d["strategies"][0].setdefault("offers", []).append("no-such"),
        )
        response = await client.post("/v1/admin/config/reload")
        assert response.status_code == 422
        detail = response.json()["detail"]
        assert "unknown offer id 'no-such'" in detail
        assert f"version {before} stays in force" in detail
        assert await _version(client) == before
        status = (await client.get("/v1/admin/config/status")).json()
        assert "no-such" in status["last_error"]
        answer = await next_offers(apps, new_loyalty_id(), channel="pos")
        assert answer["config_version"] == before
    finally:
        _write(recommend_config_path, original)
        await client.post("/v1/admin/config/reload")


async def test_reload_endpoint_puts_a_new_catalogue_in_force(
    apps: Apps, recommend_config_path: Path
) -> None:
    """A changed title is in the very next answer after POST /v1/admin/config/reload."""
    client = apps["recommend"]
    original = _read(recommend_config_path)
    try:
        _edit(
            recommend_config_path,
            lambda d: d["catalogue"][3].update(title="Join today: a free coffee and 10% off"),
        )
        response = await client.post("/v1/admin/config/reload")
        assert response.status_code == 200
        assert response.json()["changed"] is True
        answer = await next_offers(apps, new_loyalty_id(), channel="pos")
        assert answer["offers"][0]["offer_id"] == "join-today"
        assert answer["offers"][0]["title"] == "Join today: a free coffee and 10% off"
    finally:
        _write(recommend_config_path, original)
        await client.post("/v1/admin/config/reload")


async def test_saved_file_is_picked_up_without_any_call(
    apps: Apps, recommend_config_path: Path
) -> None:
    """The mtime watch reloads a saved file by itself."""
    client = apps["recommend"]
    original = _read(recommend_config_path)
    before = await _version(client)
    try:
        await asyncio.sleep(0.05)
        _edit(recommend_config_path, lambda d: d["holdout"].update(share=0.25))

        async def changed() -> bool:
            return await _version(client) != before

        await wait_until(changed, what="the config watch to reload the file", timeout_s=10)
        document = (await client.get("/v1/admin/config")).json()
        assert document["config"]["holdout"]["share"] == 0.25
    finally:
        _write(recommend_config_path, original)
        await client.post("/v1/admin/config/reload")


async def test_put_replaces_the_config_after_validation(
    apps: Apps, recommend_config_path: Path
) -> None:
    """PUT validates first (422 naming the problem), then writes the file and applies it."""
    client = apps["recommend"]
    original = _read(recommend_config_path)
    document = (await client.get("/v1/admin/config")).json()["config"]
    try:
        broken = {**document, "segments": document["segments"][:-1]}
        refused = await client.put("/v1/admin/config", json=broken)
        assert refused.status_code == 422
        assert "last segment" in refused.json()["detail"]
        document["contact_policy"]["rejection_suppression_days"] = 30
        accepted = await client.put("/v1/admin/config", json=document)
        assert accepted.status_code == 200
        on_disk = yaml.safe_load(_read(recommend_config_path))
        assert on_disk["contact_policy"]["rejection_suppression_days"] == 30
    finally:
        _write(recommend_config_path, original)
        await client.post("/v1/admin/config/reload")

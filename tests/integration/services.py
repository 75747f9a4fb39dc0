"""The three service apps on the session's real servers, built as the services build them."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

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

"""POS client integration fixtures: the profile's own topics and group on the real servers."""

from __future__ import annotations

import pytest_asyncio

from tests.integration.profile.conftest import make_profile_settings
from touchpoint_common.kafka.admin import create_topics
from touchpoint_common.settings import CommonSettings
from touchpoint_profile.settings import ProfileSettings


@pytest_asyncio.fixture
async def profile_settings(settings: CommonSettings) -> ProfileSettings:
    """Settings with fresh topics (created) and a fresh consumer group, shared by the ingest
    process and the in-process profile of one test."""
    configured = make_profile_settings(settings)
    await create_topics(configured)
    return configured

"""Tracked-consumer fixtures: a session factory on the session database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from touchpoint_common.db.engine import create_engine, create_session_factory
from touchpoint_common.settings import CommonSettings


@pytest_asyncio.fixture
async def sessions(settings: CommonSettings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Session factory on the session database (disposed after the test)."""
    engine = create_engine(settings)
    yield create_session_factory(engine)
    await engine.dispose()

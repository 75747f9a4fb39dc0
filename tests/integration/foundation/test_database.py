"""The async engine talks to the real PostgreSQL, and the schema is at the newest migration."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import report
from touchpoint_common.db.engine import (
    create_engine,
    create_session_factory,
    ping_idle_connections,
)
from touchpoint_common.db.migrate import _config, check_migrations
from touchpoint_common.settings import CommonSettings

pytestmark = pytest.mark.integration


async def test_write_then_read_through_async_engine(settings: CommonSettings) -> None:
    """A row committed in one session is read back by another session of the pool."""
    engine = create_engine(settings)
    sessions = create_session_factory(engine)
    customer_id = f"cust-{uuid.uuid4().hex}"
    try:
        async with sessions() as session, session.begin():
            await session.execute(
                text("INSERT INTO customers (customer_id) VALUES (:id)"), {"id": customer_id}
            )
        async with sessions() as session:
            row = (
                await session.execute(
                    text(
                        "SELECT customer_id, created_at, erased_at FROM customers"
                        " WHERE customer_id = :id"
                    ),
                    {"id": customer_id},
                )
            ).one()
            version: str = (await session.execute(text("SHOW server_version"))).scalar_one()
    finally:
        await engine.dispose()
    assert row.customer_id == customer_id
    assert row.created_at is not None
    assert row.erased_at is None
    report(f"postgres: wrote and read back customers row via asyncpg (server {version})")


async def test_schema_is_at_head(settings: CommonSettings) -> None:
    """The session database carries every revision of the one migration chain, up to head."""
    engine = create_engine(settings)
    try:
        assert await check_migrations(engine)
        async with engine.connect() as connection:
            current: str = (
                await connection.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar_one()
            tables: set[str] = set(
                (
                    await connection.execute(
                        text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                    )
                ).scalars()
            )
    finally:
        await engine.dispose()
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert current == head
    assert {"customers", "customer_identifiers", "customer_keys"} <= tables


async def test_idle_connection_killed_by_the_server_is_replaced_on_checkout(
    settings: CommonSettings,
) -> None:
    """A pooled connection the server closed while it sat idle (a restart, an idle timeout) is
    pinged on checkout and replaced: the next query succeeds on a new backend. One back from
    work a moment ago is handed out without a ping (no extra statements on the hot path)."""
    engine = create_async_engine(settings.database_url)  # create_engine's, with a short idle
    ping_idle_connections(engine, idle_s=0.05)
    try:
        async with engine.connect() as connection:
            first_pid: int = (
                await connection.execute(text("SELECT pg_backend_pid()"))
            ).scalar_one()
        async with engine.connect() as connection:
            again: int = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert again == first_pid
        killer = create_engine(settings)
        try:
            async with killer.connect() as connection:
                await connection.execute(
                    text("SELECT pg_terminate_backend(:pid)"), {"pid": first_pid}
                )
        finally:
            await killer.dispose()
        await asyncio.sleep(0.1)
        async with engine.connect() as connection:
            fresh: int = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    finally:
        await engine.dispose()
    assert fresh != first_pid

"""Throwaway databases on a running server: one per test session or bench run."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from touchpoint_common.db.engine import create_engine
from touchpoint_common.db.migrate import run_migrations
from touchpoint_common.settings import CommonSettings


async def create_database(server_url: str, name: str) -> str:
    """CREATE DATABASE `name` on the server of `server_url`; the new database's URL."""
    url = make_url(server_url)
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


async def drop_database(server_url: str, name: str) -> None:
    """DROP DATABASE `name` (forcing out leftover connections)."""
    admin = create_async_engine(make_url(server_url), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


async def create_migrated_database(server_url: str, name: str) -> str:
    """`create_database`, then every migration applied; the new database's URL."""
    url = await create_database(server_url, name)
    engine = create_engine(CommonSettings(database_url=url))
    try:
        await run_migrations(engine)
    finally:
        await engine.dispose()
    return url

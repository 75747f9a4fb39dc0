"""Alembic migrations: run at service start-up or by `python -m touchpoint_common.db.migrate`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from touchpoint_common.db.engine import create_engine
from touchpoint_common.settings import CommonSettings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Serialises concurrent start-ups of several replicas: only one migrates at a time.
MIGRATION_LOCK_ID = 0x70C4_0001


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    command.upgrade(_config(connection), "head")


def _is_current(connection: Connection) -> bool:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    return MigrationContext.configure(connection).get_current_revision() == head


async def run_migrations(engine: AsyncEngine) -> None:
    """Upgrade the schema to the newest revision, under an advisory lock."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


async def check_migrations(engine: AsyncEngine) -> bool:
    """True when the database schema is at the newest revision."""
    async with engine.connect() as connection:
        return await connection.run_sync(_is_current)


async def _main() -> None:
    engine = create_engine(CommonSettings())
    try:
        await run_migrations(engine)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(_main())

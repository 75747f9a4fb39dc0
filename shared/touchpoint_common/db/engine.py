"""Async SQLAlchemy engine and session factory (asyncpg)."""

from __future__ import annotations

import ssl
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from touchpoint_common.settings import CommonSettings


def create_engine(settings: CommonSettings) -> AsyncEngine:
    """An engine with a bounded pool and liveness checks on checkout."""
    return create_async_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_pre_ping=True,
        pool_timeout=5,
        connect_args=get_connect_args(settings),
    )


def get_connect_args(settings: CommonSettings) -> dict[str, Any]:
    """asyncpg connection options: TLS as TOUCHPOINT_DATABASE_SSL_MODE asks (libpq meanings)."""
    mode = settings.database_ssl_mode
    if mode == "disable":
        return {}
    context = ssl.create_default_context(cafile=settings.database_ssl_root_cert)
    if mode == "require":  # encrypt only, as libpq's sslmode=require
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context.check_hostname = mode == "verify-full"
    if settings.database_ssl_cert is not None:
        context.load_cert_chain(settings.database_ssl_cert, settings.database_ssl_key)
    return {"ssl": context}


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


async def check_database(engine: AsyncEngine) -> None:
    """Raise when the database cannot answer a trivial query."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))

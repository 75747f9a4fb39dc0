"""Config versions in PostgreSQL: seed, add, read the newest, list. Plain functions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint_recommend.configuration.models import ConfigVersionInfo, StoredConfig
from touchpoint_recommend.domain.config import RecommendConfig
from touchpoint_recommend.store.tables import config_versions

SEED_AUTHOR = "seed:default.yaml"


def _row(version: int, author: str, config: RecommendConfig) -> dict[str, Any]:
    """The values of one stored version (every field, defaults included)."""
    return {
        "version": version,
        "author": author,
        "created_at": func.now(),
        "fingerprint": config.fingerprint(),
        "body": config.model_dump(mode="json", exclude_defaults=False),
    }


async def seed_config(*, db_session: AsyncSession, config: RecommendConfig) -> bool:
    """Store `config` as version 1 when no version exists; True when this call stored it.

    Versions start at 1 and are never deleted, so version 1 exists exactly when the table is
    not empty: replicas starting together race on its primary key and one seed wins.
    """
    statement = (
        insert(config_versions)
        .values(**_row(1, SEED_AUTHOR, config))
        .on_conflict_do_nothing(index_elements=["version"])
        .returning(config_versions.c.version)
    )
    stored = (await db_session.execute(statement)).scalar_one_or_none()
    return stored is not None


async def add_config_version(
    *, db_session: AsyncSession, config: RecommendConfig, author: str
) -> StoredConfig:
    """Store `config` as the next version by `author` (writers take turns on a table lock)."""
    await db_session.execute(
        text("LOCK TABLE recommend_config_versions IN SHARE ROW EXCLUSIVE MODE")
    )
    newest = await db_session.scalar(select(func.max(config_versions.c.version)))
    version = (newest or 0) + 1
    statement = (
        insert(config_versions)
        .values(**_row(version, author, config))
        .returning(*config_versions.c)
    )
    row = (await db_session.execute(statement)).one()
    return StoredConfig.model_validate(row._asdict())


async def get_newest_version(*, db_session: AsyncSession) -> int | None:
    """The number of the newest stored version; None when nothing is stored."""
    newest: int | None = await db_session.scalar(select(func.max(config_versions.c.version)))
    return newest


async def get_newest_config(*, db_session: AsyncSession) -> StoredConfig | None:
    """The newest stored version with its body; None when nothing is stored."""
    query = select(config_versions).order_by(config_versions.c.version.desc()).limit(1)
    row = (await db_session.execute(query)).one_or_none()
    return None if row is None else StoredConfig.model_validate(row._asdict())


async def list_config_versions(
    *, db_session: AsyncSession, limit: int = 50
) -> list[ConfigVersionInfo]:
    """The newest `limit` versions, newest first, without their bodies."""
    query = (
        select(
            config_versions.c.version,
            config_versions.c.author,
            config_versions.c.created_at,
            config_versions.c.fingerprint,
        )
        .order_by(config_versions.c.version.desc())
        .limit(limit)
    )
    rows = (await db_session.execute(query)).all()
    return [ConfigVersionInfo.model_validate(row._asdict()) for row in rows]

"""Holds the config in force: the newest version stored in PostgreSQL, shared by every replica.

A change is a new stored version (PUT through admin); each replica polls the newest version
number and puts a newer one in force. A stored body that no longer validates is logged and
skipped, so a bad version never replaces a good one. Nothing is written to files: the packaged
YAML only seeds version 1 into an empty table.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from touchpoint_common.db.errors import is_outage
from touchpoint_recommend.configuration.models import ConfigStatus, StoredConfig
from touchpoint_recommend.configuration.service import (
    add_config_version,
    get_newest_config,
    get_newest_version,
    seed_config,
)
from touchpoint_recommend.domain.config import ConfigError, RecommendConfig, parse_config
from touchpoint_recommend.loader import load_config

logger = logging.getLogger(__name__)


class ConfigHolder:
    """The current RecommendConfig; replaced whole, so readers never see half a config."""

    def __init__(self, seed_path: Path, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.seed_path = seed_path
        self.sessions = sessions
        self.config = load_config(seed_path)
        self.version = self.config.fingerprint()
        self.revision: int | None = None
        self.author: str | None = None
        self.stored_at: datetime | None = None
        self.loaded_at = datetime.now(UTC)
        self.last_error: str | None = None

    async def start(self) -> None:
        """Seed version 1 from the file into an empty table, then put the newest in force."""
        async with self.sessions() as db_session, db_session.begin():
            if await seed_config(db_session=db_session, config=self.config):
                logger.info("recommend config seeded", extra={"config_version": self.version})
        try:
            await self.reload()
        except ConfigError:
            logger.warning("the newest stored config is invalid; the seed file stays in force")

    def _swap(self, config: RecommendConfig, stored: StoredConfig) -> bool:
        version = config.fingerprint()
        changed = version != self.version
        self.config, self.version, self.loaded_at = config, version, datetime.now(UTC)
        self.revision, self.author, self.stored_at = (
            stored.version,
            stored.author,
            stored.created_at,
        )
        self.last_error = None
        if changed:
            logger.info(
                "recommend config in force",
                extra={"config_version": version, "revision": stored.version},
            )
        return changed

    def _reject(self, exc: ConfigError) -> None:
        self.last_error = str(exc)
        logger.warning(
            "recommend config rejected; the previous one stays in force",
            extra={"config_version": self.version, "problem": str(exc)},
        )

    async def reload(self) -> bool:
        """Put the newest stored version in force; ConfigError (old kept) or whether it changed."""
        async with self.sessions() as db_session:
            stored = await get_newest_config(db_session=db_session)
        if stored is None:
            return False
        try:
            config = parse_config(stored.body)
        except ConfigError as exc:
            self.revision = stored.version  # not retried on every poll
            self._reject(exc)
            raise
        return self._swap(config, stored)

    async def replace(self, data: Any, *, author: str) -> bool:
        """Validate a whole new config, store it as the next version by `author`, apply it."""
        try:
            config = parse_config(data)
        except ConfigError as exc:
            self._reject(exc)
            raise
        async with self.sessions() as db_session, db_session.begin():
            stored = await add_config_version(db_session=db_session, config=config, author=author)
        return self._swap(config, stored)

    async def reload_if_newer(self) -> bool:
        """Reload when a newer version was stored (by any replica); problems are logged."""
        try:
            async with self.sessions() as db_session:
                newest = await get_newest_version(db_session=db_session)
            if newest is None or (self.revision is not None and newest <= self.revision):
                return False
            return await self.reload()
        except ConfigError:
            return False
        except Exception as exc:
            if not is_outage(exc):
                raise
            logger.warning("config poll: database unavailable; the config in force stays")
            return False

    def status(self) -> ConfigStatus:
        """What is in force."""
        return ConfigStatus(
            version=self.version,
            revision=self.revision,
            author=self.author,
            stored_at=self.stored_at,
            seed_path=str(self.seed_path),
            loaded_at=self.loaded_at,
            offers=len(self.config.catalogue),
            segments=len(self.config.segments),
            strategies=len(self.config.strategies),
            last_error=self.last_error,
        )


async def watch_config(holder: ConfigHolder, *, interval_s: float) -> None:
    """Poll the newest stored version forever; cancel the task to stop."""
    while True:
        await asyncio.sleep(interval_s)
        await holder.reload_if_newer()

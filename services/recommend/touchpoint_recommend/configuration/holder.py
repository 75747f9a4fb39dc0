"""Holds the config in force; a reload validates first, so a bad file never replaces a good one."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from touchpoint_recommend.configuration.models import ConfigStatus
from touchpoint_recommend.domain.config import ConfigError, RecommendConfig, parse_config
from touchpoint_recommend.loader import load_config

logger = logging.getLogger(__name__)


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


class ConfigHolder:
    """The current RecommendConfig; replaced whole, so readers never see half a config."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.config = load_config(path)
        self.version = self.config.fingerprint()
        self.loaded_at = datetime.now(UTC)
        self.mtime = _mtime(path)
        self.last_error: str | None = None

    def _swap(self, config: RecommendConfig) -> bool:
        version = config.fingerprint()
        changed = version != self.version
        self.config, self.version, self.loaded_at = config, version, datetime.now(UTC)
        self.last_error = None
        if changed:
            logger.info("recommend config in force", extra={"config_version": version})
        return changed

    def _reject(self, exc: ConfigError) -> None:
        self.last_error = str(exc)
        logger.warning(
            "recommend config rejected; the previous one stays in force",
            extra={"config_version": self.version, "problem": str(exc)},
        )

    def reload(self) -> bool:
        """Re-read the file; raise ConfigError (old config kept) or say whether it changed."""
        self.mtime = _mtime(self.path)
        try:
            config = load_config(self.path)
        except ConfigError as exc:
            self._reject(exc)
            raise
        return self._swap(config)

    def replace(self, data: Any) -> bool:
        """Validate a whole new config, write it to the file atomically, put it in force."""
        try:
            config = parse_config(data)
        except ConfigError as exc:
            self._reject(exc)
            raise
        text = yaml.safe_dump(
            config.model_dump(mode="json", exclude_defaults=False),
            sort_keys=False,
            allow_unicode=True,
        )
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".recommend-config-")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, self.path)
        self.mtime = _mtime(self.path)
        return self._swap(config)

    def reload_if_modified(self) -> bool:
        """Reload when the file's mtime moved; a bad file is logged and ignored."""
        mtime = _mtime(self.path)
        if mtime is None or mtime == self.mtime:
            return False
        try:
            return self.reload()
        except ConfigError:
            return False

    def status(self) -> ConfigStatus:
        """What is in force."""
        return ConfigStatus(
            version=self.version,
            path=str(self.path),
            loaded_at=self.loaded_at,
            offers=len(self.config.catalogue),
            segments=len(self.config.segments),
            strategies=len(self.config.strategies),
            last_error=self.last_error,
        )


async def watch_config(holder: ConfigHolder, *, interval_s: float) -> None:
    """Poll the file's mtime forever; cancel the task to stop."""
    while True:
        await asyncio.sleep(interval_s)
        holder.reload_if_modified()

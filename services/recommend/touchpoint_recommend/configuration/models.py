"""Admin answers about the config in force."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class ConfigStatus(BaseModel):
    """Which config is in force, since when, from where."""

    version: str
    path: str
    loaded_at: datetime
    offers: int
    segments: int
    strategies: int
    last_error: str | None = None
    """The latest rejected config's problem (the version above stayed in force)."""


class ConfigReloaded(BaseModel):
    """The result of a reload or a replace."""

    changed: bool
    status: ConfigStatus


class ConfigDocument(BaseModel):
    """The config in force, as data."""

    version: str
    config: dict[str, Any]

"""Admin answers about the config in force."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class ConfigVersionInfo(BaseModel):
    """One stored config version: its number, who stored it, when, and its fingerprint."""

    version: int
    author: str
    created_at: datetime
    fingerprint: str


class StoredConfig(ConfigVersionInfo):
    """A stored config version with its body (validated when put in force)."""

    body: dict[str, Any]


class ConfigStatus(BaseModel):
    """Which config is in force, since when, which stored version and who stored it."""

    version: str
    """The config's fingerprint (decisions carry it as config_version)."""
    revision: int | None
    """The stored version in force; None until the database was first read."""
    author: str | None
    stored_at: datetime | None
    seed_path: str
    """The file that seeds version 1 into an empty table (never written)."""
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

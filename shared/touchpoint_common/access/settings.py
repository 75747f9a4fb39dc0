"""Access settings, read from TOUCHPOINT_ACCESS_* environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AccessSettings(BaseSettings):
    """Key cache lifetime and the default per-key rate limit."""

    model_config = SettingsConfigDict(env_prefix="TOUCHPOINT_ACCESS_", extra="ignore")

    key_cache_ttl_s: float = Field(default=3.0, gt=0)
    """How long a checked key is trusted in memory: a revocation takes effect within this."""
    rate_per_second: int = Field(default=2000, ge=1)
    """Requests per second per key unless the key sets its own."""
    rate_burst_seconds: int = Field(default=1, ge=1)
    """The window the rate is counted over (rate * seconds requests per window)."""

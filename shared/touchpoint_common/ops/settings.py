"""Lag-monitor settings, read from TOUCHPOINT_OPS_* environment variables."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class OpsSettings(BaseSettings):
    """Which groups to watch and how often; an empty group list means every group."""

    model_config = SettingsConfigDict(env_prefix="TOUCHPOINT_OPS_", extra="ignore")

    lag_enabled: bool = True
    lag_groups: Annotated[list[str], NoDecode] = Field(default_factory=list)
    lag_interval_s: float = Field(default=15.0, gt=0)
    lag_timeout_s: float = Field(default=10.0, gt=0)
    lag_stale_after_s: float = Field(default=60.0, gt=0)

    @field_validator("lag_groups", mode="before")
    @classmethod
    def split_groups(cls, value: object) -> object:
        """Accept "a,b,c" from the environment as well as a list."""
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

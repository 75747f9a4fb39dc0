"""Settings of the recommend service (TOUCHPOINT_* variables; see docs/configuration.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from touchpoint_common.settings import CommonSettings
from touchpoint_profile.read import FoldRulesSettings
from touchpoint_recommend.loader import DEFAULT_CONFIG_PATH


class RecommendSettings(CommonSettings, FoldRulesSettings):
    """The recommend service's settings: the common ones, the profile's fold rules, its own."""

    model_config = SettingsConfigDict(
        env_prefix="TOUCHPOINT_", extra="ignore", env_nested_delimiter="__"
    )

    service_name: str = "recommend"
    port: int = 8003

    recommend_config_path: Path = DEFAULT_CONFIG_PATH
    """YAML file that seeds version 1 of the stored config when the table is empty (read only)."""
    recommend_config_poll_s: float = Field(default=2.0, ge=0)
    """How often the newest stored config version is checked (0: only POST .../reload)."""
    recommend_default_limit: int = Field(default=3, ge=1, le=20)
    recommend_seed: int | None = None
    """Seed of the Thompson-sampling RNG (tests and replays); unset: seeded from the OS."""
    figures_refresh_s: float = Field(default=300.0, ge=0)
    """How often the offer-figure gauges are recomputed (0: never; the API computes on call)."""
    figures_window_days: int = Field(default=30, ge=1, le=366)
    """The offer-figure gauges cover contacts of this many days."""
    recommend_produce_timeout_s: float = Field(default=5.0, gt=0)
    """Deadline for the broker to acknowledge one round of the outbox relay's records (the
    unacknowledged ones are sent again next round)."""
    recommend_outbox_scope: str = Field(default="default", min_length=1, max_length=100)
    """Which outbox rows this process writes and relays: every process on one broker shares
    the default; one writing for another broker needs its own (else a relay elsewhere would
    send its rows to the wrong broker)."""
    recommend_outbox_poll_s: float = Field(default=1.0, gt=0, le=60)
    """How often the outbox relay looks for records owed by other processes or a restart
    (this process's own decisions wake it at once)."""
    learner_enabled: bool = True
    """Run the learner inside the API process (off: `python -m touchpoint_recommend.learner`)."""
    learner_group: str = "touchpoint-recommend-learner"
    learner_batch_max_records: int = Field(default=500, ge=1, le=100_000)
    learner_batch_timeout_ms: int = Field(default=200, ge=1)
    default_phone_region: str = Field(default="CN", min_length=2, max_length=2)
    """Region assumed for phone numbers without a country code (same as ingest)."""

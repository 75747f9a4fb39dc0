"""Settings of the profile service (TOUCHPOINT_* variables; see docs/configuration.md)."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from touchpoint_common.settings import CommonSettings
from touchpoint_profile.care.plans import CarePlans
from touchpoint_profile.fold.rules import FoldRules


class FoldRulesSettings(BaseSettings):
    """The fold rules from the environment: the one source profile and recommend both read.

    Nested: TOUCHPOINT_PROFILE_RULES__WINDOW_DAYS=30,
    TOUCHPOINT_PROFILE_RULES__FREQUENCY_CUTS='[2,3,5,10]' and so on (see FoldRules).
    """

    model_config = SettingsConfigDict(
        env_prefix="TOUCHPOINT_", extra="ignore", env_nested_delimiter="__"
    )

    profile_rules: FoldRules = Field(default_factory=FoldRules)


class ProfileSettings(CommonSettings, FoldRulesSettings):
    """The profile service's settings: the common ones, the fold rules, and its own."""

    model_config = SettingsConfigDict(
        env_prefix="TOUCHPOINT_", extra="ignore", env_nested_delimiter="__"
    )

    service_name: str = "profile"
    port: int = 8002

    consumer_group: str = "touchpoint-profile"
    consumer_enabled: bool = True
    """Run the fold consumer inside the API process (off: run `python -m ...consumer`)."""
    consumer_batch_max_records: int = Field(default=5000, ge=1, le=100_000)
    """Records per fold transaction at most (a batch is what a poll finds: only a backlog
    fills it). 5,000 against 1,000 nearly doubled the fold from a backlog: a customer's
    state is loaded, written and its value row computed once per batch, not per event."""
    consumer_batch_timeout_ms: int = Field(default=200, ge=1)
    consumer_db_retry_attempts: int = Field(default=8, ge=1)
    complaints_overdue_interval_s: float = Field(default=30.0, ge=0)
    """How often the overdue-complaints gauge is counted (0: never, e.g. in tests)."""
    care_plans: CarePlans = Field(default_factory=CarePlans)
    """Minimum care contacts per ABC tier and plan period (TOUCHPOINT_CARE_PLANS__A__VISITS=3,
    ..._CALLS=2; defaults: the brief's A 3 visits + 2 calls, B 2 + 1, C 1 + 1)."""
    care_plan_days: int = Field(default=30, ge=1, le=90)
    """The plan period ("a month"): contacts in the last this many days count (at most the
    fold window, whose day buckets they are counted from)."""
    worklist_due_within_hours: float = Field(default=24.0, ge=0, le=24 * 31)
    """Commitments due within this many hours (or overdue, until the view drops them as
    expired) are on the worklist: "due today"."""
    default_phone_region: str = Field(default="CN", min_length=2, max_length=2)
    """Region assumed for phone numbers without a country code (same as ingest)."""

    live_queue_size: int = Field(default=100, ge=1, le=10_000)
    """Lines a live feed (GET /v1/customers/{id}/live) holds for a slow reader; then the oldest
    are dropped."""
    live_heartbeat_s: float = Field(default=15.0, gt=0)
    """A live feed sends a keep-alive comment after this long without a line."""
    console_ingest_url: str = "http://127.0.0.1:8001"
    """Where the agent console (served at /console) posts events: ingest as the browser sees it."""
    console_recommend_url: str = "http://127.0.0.1:8003"
    """Where the agent console asks for next offers: recommend as the browser sees it."""

    ranking_interval_s: float = Field(default=6 * 3600, ge=0)
    """The ranking job runs when the newest ranking is this old (0: only on demand)."""
    ranking_check_s: float = Field(default=300, gt=0)
    """How often each replica checks whether a ranking is due (one runs it: advisory lock)."""
    ranking_min_window_buyers: int = Field(default=5, ge=1)
    """A base with fewer buyers in the window is not ranked (quintiles of a handful mean
    nothing); the fixed FoldRules cut points stay in force."""
    ranking_clv_sample: int = Field(default=100_000, ge=100)
    """Buyers sampled at random to fit the CLV models on (all of them in a smaller base)."""
    ranking_churn_period_days: int = Field(default=30, ge=1)
    """Churn rate: buyers lost in this many days / buyers at the period's start."""
    ranking_publish_timeout_s: float = Field(default=10.0, gt=0)
    """How long the job waits for the broker to acknowledge a published ranking."""

    @model_validator(mode="after")
    def _plan_inside_window(self) -> ProfileSettings:
        """Care contacts are counted from the window's day buckets: the plan period must fit."""
        if self.care_plan_days > self.profile_rules.window_days:
            raise ValueError("care_plan_days must be at most profile_rules.window_days")
        return self

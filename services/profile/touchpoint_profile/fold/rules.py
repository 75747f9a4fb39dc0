"""The configurable rules of the fold and of the view, with retail defaults."""

from __future__ import annotations

import itertools
import math
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator


def _ascending(values: list[Decimal], name: str) -> None:
    if len(values) != 4 or any(a >= b for a, b in itertools.pairwise(values)):
        raise ValueError(f"{name} needs 4 strictly ascending cut points (scores 2..5)")


class ResponseTimes(BaseModel):
    """Hours to resolve a complaint by severity before it is overdue.

    The brief gives no figures (section 4 asks only that an open complaint be visible and
    followed up), so these are common retail service levels: critical the same shift, high the
    next day, medium three days, low a week.
    """

    model_config = ConfigDict(frozen=True)

    critical: float = Field(default=4.0, gt=0, le=24 * 365)
    high: float = Field(default=24.0, gt=0, le=24 * 365)
    medium: float = Field(default=72.0, gt=0, le=24 * 365)
    low: float = Field(default=168.0, gt=0, le=24 * 365)

    def hours(self, severity: str | None) -> float:
        """The hours allowed for this severity (an unknown one gets the longest)."""
        allowed: float | None = getattr(self, severity or "", None)
        return allowed if isinstance(allowed, float) else max(self.low, self.medium)


class FoldRules(BaseModel):
    """Everything the pure fold and its evaluation depend on; built from ProfileSettings."""

    model_config = ConfigDict(frozen=True)

    window_days: int = Field(default=90, ge=1, le=730)
    timeline_size: int = Field(default=50, ge=1, le=500)
    max_offers: int = Field(default=20, ge=1, le=200)
    max_complaints: int = Field(default=50, ge=1, le=500)
    max_commitments: int = Field(default=50, ge=1, le=500)
    max_notes: int = Field(default=20, ge=1, le=200)
    closed_complaints_shown: int = Field(default=10, ge=0, le=500)
    commitment_expired_grace_days: float = Field(default=7.0, ge=0, le=365)
    """An expired commitment stays in the view this long after its due time."""
    complaint_response_hours: ResponseTimes = Field(default_factory=ResponseTimes)
    max_categories: int = Field(default=64, ge=1, le=1000)
    max_applied_ids: int = Field(default=5000, ge=10, le=100_000)

    # R by the brief's table: days since last purchase <= bound gives the score.
    recency_bounds: tuple[int, int, int, int] = (7, 30, 60, 120)
    # F: purchases in the window at or above each cut point add one to the score (1..5).
    frequency_cuts: list[int] = Field(default_factory=lambda: [2, 3, 5, 10])
    # M: net spend in the window (base currency) at or above each cut point adds one.
    monetary_cuts: list[Decimal] = Field(
        default_factory=lambda: [Decimal(200), Decimal(500), Decimal(1500), Decimal(5000)]
    )

    tier_a_min_rfm_product: int = Field(default=48, ge=1, le=125)
    tier_b_min_rfm_product: int = Field(default=8, ge=1, le=125)

    lifecycle_new_days: int = Field(default=30, ge=0)
    lifecycle_at_risk_days: int = Field(default=60, ge=1)
    lifecycle_lapsed_days: int = Field(default=120, ge=1)
    lifecycle_active_min_frequency: int = Field(default=1, ge=1)

    interest_half_life_days: float = Field(default=14.0, gt=0)
    weight_purchase: float = 3.0
    weight_page_view: float = 0.5
    weight_store_visit: float = 1.0
    weight_offer_accepted: float = 2.0
    weight_offer_rejected: float = -1.0
    weight_offer_ignored: float = 0.0

    @field_validator("frequency_cuts")
    @classmethod
    def _frequency_ascending(cls, value: list[int]) -> list[int]:
        _ascending([Decimal(v) for v in value], "frequency_cuts")
        return value

    @field_validator("monetary_cuts")
    @classmethod
    def _monetary_ascending(cls, value: list[Decimal]) -> list[Decimal]:
        _ascending(value, "monetary_cuts")
        return value

    @property
    def decay_rate_per_second(self) -> float:
        """λ of exp(-λ·age): ln 2 per half-life."""
        return math.log(2) / (self.interest_half_life_days * 86400.0)


DEFAULT_RULES = FoldRules()

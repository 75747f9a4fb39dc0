"""The configurable rules of the fold and of the view, with retail defaults."""

from __future__ import annotations

import itertools
import math
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

LEGACY_CURRENCY = "*"
"""Window spend folded before money was kept per currency: counted in the reporting currency."""


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
    timeline_size: int = Field(default=20, ge=1, le=500)
    """Newest timeline lines kept (the brief: preferences come from the last few contacts)."""
    max_offers: int = Field(default=20, ge=1, le=200)
    max_complaints: int = Field(default=50, ge=1, le=500)
    """Open complaints kept (the newest; a customer with more is an incident, not a profile)."""
    max_closed_complaints: int = Field(default=20, ge=1, le=500)
    """Resolved complaints remembered (newest by resolution): what the view's closed list and
    the managers' complaint figures (time to resolve, on-time share, satisfaction) count."""
    closed_complaint_texts_kept: int = Field(default=5, ge=0, le=500)
    """Of those, the newest kept whole with their sealed texts (the private endpoint opens
    them); older ones keep only their clock (category, severity, opened, resolved,
    satisfaction)."""
    max_commitments: int = Field(default=50, ge=1, le=500)
    """Live commitments kept (made, not fulfilled, not past due + grace)."""
    max_closed_commitments: int = Field(default=5, ge=0, le=500)
    """Commitments no longer live (fulfilled, or expired) kept, newest first: the view no
    longer shows them; they only let a late step of a recent one fold right."""
    max_notes: int = Field(default=10, ge=1, le=200)
    """Agents' notes kept, newest first."""
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

    # R x F x M bands without a ranking (BaseRanking.rfm_top_min / rfm_bottom_max replace them):
    # the product at or above top_min is the top band, at or below bottom_max the bottom band.
    rfm_top_min_product: int = Field(default=48, ge=1, le=125)
    rfm_bottom_max_product: int = Field(default=7, ge=0, le=125)

    # ABC by window profit (reporting currency) without a ranking (BaseRanking.abc_* replace
    # them): A at or above a_min, C at or below c_max (C brings no profit), B between.
    abc_a_min_profit: Decimal = Decimal(1000)
    abc_c_max_profit: Decimal = Decimal(0)

    # Lifecycle triggers (see fold/lifecycle.py): only buyers move past `prospect`.
    lifecycle_new_days: int = Field(default=30, ge=0)
    """A buyer whose first purchase is at most this many days old is `new_buyer`."""
    lifecycle_at_risk_days: int = Field(default=60, ge=1)
    """A buyer idle (no purchase) for more than this many days is `at_risk`."""
    lifecycle_lost_days: int = Field(default=120, ge=1)
    """A buyer idle for more than this many days is `lost` (the R table's score 1)."""
    lifecycle_won_back_days: int = Field(default=30, ge=0)
    """A buyer who bought again after more than lifecycle_at_risk_days idle stays `won_back`
    this many days after that purchase."""
    lifecycle_mature_days: int = Field(default=365, ge=0)
    """A buyer whose first purchase is at least this old ..."""
    lifecycle_mature_min_purchases: int = Field(default=6, ge=1)
    """... and who made at least this many purchases is `mature` (else `active`)."""

    interest_half_life_days: float = Field(default=14.0, gt=0)
    weight_purchase: float = 3.0
    weight_page_view: float = 0.5
    weight_store_visit: float = 1.0

    # Money and value (fold/value.py). Amounts are kept per currency in the state; the view
    # and customer_value convert them with `currency_rates` (units of the reporting currency
    # per unit of the currency; the reporting currency itself is 1). A currency without a
    # rate is shown apart and never summed into the reporting figures.
    reporting_currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    currency_rates: dict[str, Decimal] = Field(default_factory=dict)
    margin_rates: dict[str, Decimal] = Field(default_factory=dict)
    """Gross margin rate per item category (0..1), for items without a `unit_cost`."""
    default_margin_rate: Decimal = Field(default=Decimal("0.25"), ge=0, le=1)
    """Margin rate of categories not in margin_rates."""
    max_money_ids: int = Field(default=2000, ge=10, le=100_000)
    """Purchase and return ids kept to fold each into the lifetime figures once."""
    max_purchase_moments: int = Field(default=8, ge=2, le=100)
    """Newest purchases kept (when each happened) for the won-back trigger."""
    max_surveys: int = Field(default=5, ge=1, le=100)
    """Newest surveys kept; satisfaction averages over them."""
    max_points_deltas: int = Field(default=100, ge=1, le=10_000)
    """Points movements kept after the latest stated balance (older ones are carried)."""

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

    @field_validator("currency_rates")
    @classmethod
    def _rates_positive(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for currency, rate in value.items():
            if len(currency) != 3 or not currency.isupper() or rate <= 0:
                raise ValueError(f"currency_rates: {currency!r} needs a code like CNY, rate > 0")
        return value

    @field_validator("margin_rates")
    @classmethod
    def _margins_fractions(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for category, rate in value.items():
            if not Decimal(0) <= rate <= Decimal(1):
                raise ValueError(f"margin_rates: {category!r} needs a rate between 0 and 1")
        return value

    @model_validator(mode="after")
    def _bounds_in_order(self) -> FoldRules:
        """Thresholds that only make sense one above the other."""
        if self.abc_a_min_profit <= self.abc_c_max_profit:
            raise ValueError("abc_a_min_profit must be above abc_c_max_profit")
        if self.rfm_top_min_product <= self.rfm_bottom_max_product:
            raise ValueError("rfm_top_min_product must be above rfm_bottom_max_product")
        if self.lifecycle_lost_days < self.lifecycle_at_risk_days:
            raise ValueError("lifecycle_lost_days must be at least lifecycle_at_risk_days")
        return self

    def rate_of(self, currency: str) -> Decimal | None:
        """Reporting-currency units per unit of `currency`; None when no rate is configured."""
        if currency in (self.reporting_currency, LEGACY_CURRENCY):
            return Decimal(1)
        return self.currency_rates.get(currency)

    def margin_of(self, category: str) -> Decimal:
        """The configured margin rate of a category (the default rate when not configured)."""
        return self.margin_rates.get(category, self.default_margin_rate)

    @property
    def decay_rate_per_second(self) -> float:
        """λ of exp(-λ·age): ln 2 per half-life."""
        return math.log(2) / (self.interest_half_life_days * 86400.0)


DEFAULT_RULES = FoldRules()

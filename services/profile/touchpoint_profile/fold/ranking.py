"""Base-wide cut points from the ranking job: the view's F, M, ABC and CLV use them at once.

The fold and its evaluation stay pure: the read path passes the current `BaseRanking` (or
None before the first run, when the fixed defaults of `FoldRules` apply).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict


class ClvParams(BaseModel):
    """Fitted BG/NBD (r, alpha, a, b) and Gamma-Gamma (p, q, v) parameters, time unit days."""

    model_config = ConfigDict(frozen=True)

    r: float
    alpha: float
    a: float
    b: float
    p: float
    q: float
    v: float
    horizon_days: int = 365
    """Predicted value is over this many days (12 months), undiscounted."""
    valuable_min: float | None = None
    """Lifetime profit at or above this is "most valuable" (the top 20% of buyers)."""
    growable_min: float | None = None
    """Predicted value at or above this is "most growable" (top 20%, not most valuable)."""
    sample_size: int = 0
    """Buyers the parameters were fitted on (a random sample at 10M)."""


class BaseRanking(BaseModel):
    """One versioned run of the ranking job over the current views (not over raw history)."""

    model_config = ConfigDict(frozen=True)

    version: int
    computed_at: datetime
    customers: int
    """Customers ranked in this run."""
    reporting_currency: str
    frequency_cuts: tuple[int, int, int, int]
    """F quintiles: window purchases at or above cut i score i + 2 (1..5)."""
    monetary_cuts: tuple[Decimal, Decimal, Decimal, Decimal]
    """M quintiles over window net spend, same rule."""
    rfm_top_min: int
    """R x F x M at or above this is the top 20% band."""
    rfm_bottom_max: int
    """R x F x M at or below this is the bottom 20% band (the rest is the middle 60%)."""
    abc_a_min_profit: Decimal
    """Window profit at or above this is A: the customers bringing the first ~80% of profit."""
    abc_c_max_profit: Decimal
    """Window profit at or below this is C: the customers bringing none (B between)."""
    clv: ClvParams | None = None

"""The rankings table, the figures a run computes, and the shapes the API answers with."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import BigInteger, Column, DateTime, Float, MetaData, Table
from sqlalchemy.dialects.postgresql import JSONB

from touchpoint_profile.fold.ranking import BaseRanking

metadata = MetaData()

rankings = Table(
    "rankings",
    metadata,
    Column("version", BigInteger, primary_key=True),
    Column("computed_at", DateTime(timezone=True), nullable=False),
    Column("ranking", JSONB, nullable=False),
    Column("figures", JSONB, nullable=False),
    Column("duration_s", Float, nullable=False),
)

AbcTier = Literal["A", "B", "C"]
LifecycleCount = Literal["prospect", "new_buyer", "active", "at_risk", "lost"]


class TierShare(BaseModel):
    """One ABC tier: how many buyers, how much window profit, and their shares of the base."""

    model_config = ConfigDict(frozen=True)

    customers: int
    profit: Decimal
    customer_share: float
    profit_share: float | None = Field(description="None when the base made no profit")


class Churn(BaseModel):
    """Buyers who became lost in the period / buyers (not lost) at its start."""

    model_config = ConfigDict(frozen=True)

    period_days: int
    buyers_at_start: int
    became_lost: int
    rate: float | None


class ComplaintFigures(BaseModel):
    """Complaints resolved in the period: time to resolve, and satisfaction after follow-up."""

    model_config = ConfigDict(frozen=True)

    period_days: int
    resolved: int
    """Complaints resolved in the period (of live customers)."""
    hours_to_resolve_mean: float | None
    hours_to_resolve_median: float | None
    hours_to_resolve_p90: float | None
    """Over the resolved complaints whose opening was seen."""
    resolved_on_time_share: float | None
    """Share resolved within their severity's response time (complaint_response_hours)."""
    followed_up: int
    """Of those, complaints with a follow-up that rated satisfaction (1-5)."""
    satisfaction_mean: float | None
    satisfied_share: float | None
    """Share of follow-ups rating 4 or 5."""


class CustomerFigures(BaseModel):
    """What a run found in the base: the figures managers read (reporting currency)."""

    model_config = ConfigDict(frozen=True)

    reporting_currency: str
    customers: int
    """Rows in customer_value in the reporting currency (buyers and prospects)."""
    buyers: int
    """Customers who ever bought: the ABC base."""
    window_buyers: int
    """Customers who bought in the window: the F, M quintiles and R x F x M bands base."""
    abc: dict[AbcTier, TierShare]
    rfm_bands: dict[Literal["top", "middle", "bottom"], int]
    lifecycle: dict[LifecycleCount, int]
    """From first/last purchase dates (won back and mature need the fold's history: they are
    counted in active here)."""
    churn: Churn
    complaints: ComplaintFigures | None = None
    """None in runs stored before the complaint figures were counted."""


class RankingRun(BaseModel):
    """One stored run: the ranking the views use and the figures of the base."""

    model_config = ConfigDict(frozen=True)

    ranking: BaseRanking
    figures: CustomerFigures
    duration_s: float


class CustomerFiguresOut(CustomerFigures):
    """`GET /v1/figures/customers`: the figures of the newest ranking, with its version."""

    ranking_version: int
    ranking_computed_at: datetime


class RunOut(BaseModel):
    """`POST /v1/admin/rankings/run`: what the run computed, or why it did not run."""

    ran: bool
    reason: str | None = None
    ranking: BaseRanking | None = None
    duration_s: float | None = None
    published: bool | None = None


class RankingRecord(BaseModel):
    """The value of a rankings record (compacted topic, key `base_ranking`): the newest run's
    ranking and figures. Published as contracts/ JSON Schema."""

    type: Literal["base_ranking"] = "base_ranking"
    ranking: BaseRanking
    figures: CustomerFigures


class RankingHeaders(BaseModel):
    """The headers of a rankings record (UTF-8 strings on the wire)."""

    type: Literal["base_ranking"] = "base_ranking"
    version: str = Field(pattern=r"^[0-9]+$", description="The ranking's version number.")

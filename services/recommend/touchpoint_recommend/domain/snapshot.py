"""What the decision needs to know about a customer: a small, pure copy of the live view."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

OfferStatus = Literal["presented", "accepted", "rejected", "ignored"]


class Rfm(BaseModel):
    """Recency, frequency and monetary figures with their 1-5 scores."""

    model_config = ConfigDict(frozen=True)

    window_days: int = 90
    recency_days: int | None = None
    frequency: int = 0
    monetary: float = 0.0
    r: int | None = None
    f: int | None = None
    m: int | None = None


class Interest(BaseModel):
    """A decayed interest score in one category."""

    model_config = ConfigDict(frozen=True)

    category: str
    score: float


class OpenComplaint(BaseModel):
    """A complaint not yet resolved."""

    model_config = ConfigDict(frozen=True)

    complaint_id: str
    category: str
    severity: str
    age_days: int = 0


class OfferHistoryItem(BaseModel):
    """One past offer and what became of it."""

    model_config = ConfigDict(frozen=True)

    offer_id: str
    decision_id: str | None = None
    status: OfferStatus
    at: datetime


ConsentPurpose = Literal["marketing", "profiling"]
ConsentStatus = Literal["granted", "withdrawn"]


class ConsentItem(BaseModel):
    """The latest consent statement of one purpose on one channel."""

    model_config = ConfigDict(frozen=True)

    purpose: ConsentPurpose
    channel: str
    status: ConsentStatus


class CustomerSnapshot(BaseModel):
    """The customer as the decision sees them; `known=False` for someone never seen."""

    model_config = ConfigDict(frozen=True)

    customer_id: str | None = None
    known: bool = True
    member: bool = False
    member_tier: str | None = None
    rfm: Rfm = Field(default_factory=Rfm)
    tier: str | None = None
    lifecycle: str | None = None
    interests: tuple[Interest, ...] = ()
    recent_purchases: dict[str, int] = Field(default_factory=dict)
    """Purchases that included each category, over the RFM window (rfm.window_days)."""
    preferred_channel: str | None = None
    open_complaints: tuple[OpenComplaint, ...] = ()
    offers: tuple[OfferHistoryItem, ...] = ()
    consents: tuple[ConsentItem, ...] = ()
    csat: int | None = None
    """The latest CSAT (1-5) the customer gave in a survey; None: none given."""
    nps: int | None = None
    """The latest NPS answer (0-10); None: none given."""

    def consent(self, purpose: ConsentPurpose, channel: str) -> ConsentStatus | None:
        """The customer's latest statement for this purpose and channel; None: never stated."""
        for item in self.consents:
            if item.purpose == purpose and item.channel == channel:
                return item.status
        return None

    def without_profiling(self) -> CustomerSnapshot:
        """The facts a decision needs without profiling: no RFM, tier, lifecycle, interests,
        survey scores."""
        return self.model_copy(
            update={
                "csat": None,
                "nps": None,
                "rfm": Rfm(),
                "tier": None,
                "lifecycle": None,
                "interests": (),
                "recent_purchases": {},
                "preferred_channel": None,
            }
        )

    def interest_score(self, category: str) -> float:
        """The decayed score in a category, 0 when the customer shows no interest in it."""
        for interest in self.interests:
            if interest.category == category:
                return interest.score
        return 0.0

    def top_interest(self) -> str | None:
        """The category with the highest score, if any."""
        if not self.interests:
            return None
        return max(self.interests, key=lambda interest: interest.score).category


def opted_in(*channels: str) -> tuple[ConsentItem, ...]:
    """Marketing and profiling granted on each channel (fixtures, simulations, demos)."""
    return tuple(
        ConsentItem(purpose=purpose, channel=channel, status="granted")
        for purpose in ("marketing", "profiling")
        for channel in channels
    )


def unknown_customer(customer_id: str | None = None) -> CustomerSnapshot:
    """A customer the profile has never seen: no history, not a member."""
    return CustomerSnapshot(customer_id=customer_id, known=False)

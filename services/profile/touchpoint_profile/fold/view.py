"""The figures of the customer view, as evaluated from the state at a query-time `now`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel

Tier = Literal["A", "B", "C"]
Lifecycle = Literal["new", "active", "at_risk", "lapsed"]
OfferStatus = Literal["presented", "accepted", "rejected", "ignored"]
ConsentPurpose = Literal["marketing", "profiling"]
ConsentStatus = Literal["granted", "withdrawn"]
ComplaintStatus = Literal["open", "assigned", "escalated", "remedy_offered"]
CommitmentStatus = Literal["open", "expired"]


class Rfm(BaseModel):
    """Recency, frequency and monetary value over the window, each also scored 1..5."""

    window_days: int
    recency_days: int | None
    frequency: int
    monetary: Decimal
    r: int
    f: int
    m: int


class Interest(BaseModel):
    """A category and its decayed score at `as_of`."""

    category: str
    score: float


class Channels(BaseModel):
    """Contacts per channel in the window, and the channel and store used most."""

    counts: dict[str, int]
    preferred_channel: str | None
    preferred_store: str | None


class OpenComplaint(BaseModel):
    """A complaint not yet resolved, with its due time by the response-time policy."""

    complaint_id: str
    category: str | None
    severity: str | None
    status: ComplaintStatus = "open"
    owner: str | None = None
    escalated_to: str | None = None
    opened_at: datetime | None
    age_days: int | None
    age_hours: int | None = None
    due_at: datetime | None = None
    """opened_at plus the hours its severity allows (FoldRules.complaint_response_hours)."""
    overdue: bool = False


class ClosedComplaint(BaseModel):
    """A resolved complaint: how long it took and how satisfied the customer was."""

    complaint_id: str
    category: str | None
    severity: str | None
    opened_at: datetime | None
    resolved_at: datetime
    hours_to_resolve: float | None
    """None when the opening is not known."""
    satisfaction: int | None
    """1-5 from the latest follow-up, None before one."""


class OpenCommitment(BaseModel):
    """What an agent promised, until fulfilled or for a grace period after its due time."""

    commitment_id: str
    made_at: datetime
    agent_id: str | None
    store_id: str | None
    channel: str | None
    due_at: datetime
    status: CommitmentStatus


class OfferSeen(BaseModel):
    """A recent offer and where it stands."""

    offer_id: str
    decision_id: str
    kind: str | None
    status: OfferStatus
    at: datetime


class ConsentStanding(BaseModel):
    """The latest consent statement of one purpose on one channel (none: no statement yet)."""

    purpose: ConsentPurpose
    channel: str
    status: ConsentStatus
    at: datetime
    """The statement's occurred_at."""


class TimelineLine(BaseModel):
    """One interaction, newest first, with a line a person can read."""

    event_id: str
    occurred_at: datetime
    type: str
    channel: str
    store_id: str | None
    line: str


class ProfileFigures(BaseModel):
    """Everything the view shows except identifiers, which live in the identity table."""

    customer_id: str
    member: bool
    member_tier: str | None
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    as_of: datetime
    rfm: Rfm
    tier: Tier
    lifecycle: Lifecycle
    interests: list[Interest]
    recent_purchases: dict[str, int]
    """Purchases in the window that included each category."""
    channels: Channels
    open_complaints: list[OpenComplaint]
    """Overdue first, then by due time."""
    offers: list[OfferSeen]
    timeline: list[TimelineLine]
    consents: list[ConsentStanding] = []
    """Latest statement per purpose x channel, sorted by purpose then channel."""
    closed_complaints: list[ClosedComplaint] = []
    """Newest first, at most FoldRules.closed_complaints_shown."""
    commitments: list[OpenCommitment] = []
    """Open and recently expired commitments, soonest due first."""

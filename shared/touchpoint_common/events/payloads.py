"""Per-type payloads of the event contract (schema version 1). Money is Decimal, never float."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]


class Payload(BaseModel):
    """Base of every payload: unknown fields are refused so typos are caught at the door."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Item(Payload):
    sku: Text
    category: Text
    quantity: Annotated[int, Field(gt=0, le=10_000)]
    unit_price: Money
    unit_cost: Money | None = None
    """What one unit cost the retailer (optional); without it the profile applies the
    category's configured margin rate."""


class PurchasePayload(Payload):
    order_id: Text
    amount: Money
    currency: Currency
    items: Annotated[list[Item], Field(min_length=1, max_length=500)]


class ReturnPayload(Payload):
    order_id: Text
    amount: Money
    currency: Currency
    items: Annotated[list[Item], Field(max_length=500)] = []


class CallOutcome(StrEnum):
    RESOLVED = "resolved"
    ESCALATED = "escalated"
    CALLBACK = "callback"
    DROPPED = "dropped"
    INFORMATION = "information"


class CallPayload(Payload):
    reason: Text
    duration_seconds: Annotated[int, Field(ge=0, le=86_400)]
    outcome: CallOutcome


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class ComplaintPayload(Payload):
    """`text` is free text that may hold personal data: it is sealed before Kafka."""

    complaint_id: Text
    category: Text
    severity: Severity
    text: LongText | None = None


class ComplaintResolvedPayload(Payload):
    complaint_id: Text
    resolution: Text


class PageViewPayload(Payload):
    url: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    category: Text | None = None
    sku: Text | None = None


class StoreVisitPayload(Payload):
    zone: Text
    category: Text | None = None
    dwell_seconds: Annotated[int, Field(ge=0, le=86_400)] | None = None


class MembershipAction(StrEnum):
    JOINED = "joined"
    LEFT = "left"
    TIER_CHANGED = "tier_changed"
    POINTS = "points"
    """Only a points movement or balance statement."""


Points = Annotated[int, Field(ge=-1_000_000_000, le=1_000_000_000)]


class MembershipPayload(Payload):
    """`points_delta` moves the balance (earned > 0, redeemed < 0); `points_balance` states it."""

    action: MembershipAction
    tier: Text | None = None
    points_delta: Points | None = None
    points_balance: Annotated[int, Field(ge=0, le=1_000_000_000)] | None = None

    @model_validator(mode="after")
    def _points_action_has_points(self) -> MembershipPayload:
        if self.action == MembershipAction.POINTS and (
            self.points_delta is None and self.points_balance is None
        ):
            raise ValueError("action 'points' needs points_delta or points_balance")
        return self


class OfferShown(Payload):
    offer_id: Text
    rank: Annotated[int, Field(ge=1)]
    score: float
    kind: Text | None = None


class OfferPresentedPayload(Payload):
    decision_id: Text
    segment: Text
    strategy: Text
    holdout: bool = False
    offers: Annotated[list[OfferShown], Field(max_length=50)]
    store_id: Text | None = None
    """Where the offers were made (attribution: acceptance by store)."""
    agent_id: Text | None = None
    """Who made them (the clerk or call-centre agent)."""


class OfferOutcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    IGNORED = "ignored"


class OfferResponsePayload(Payload):
    decision_id: Text
    offer_id: Text
    outcome: OfferOutcome


class ErasePayload(Payload):
    reason: Text | None = None


class UnmergePayload(Payload):
    """Undo the merge of `customer_id` (the loser) into the event's customer (the survivor)."""

    customer_id: Text


class EventType(StrEnum):
    PURCHASE = "purchase"
    RETURN = "return"
    CALL = "call"
    COMPLAINT = "complaint"
    COMPLAINT_RESOLVED = "complaint_resolved"
    PAGE_VIEW = "page_view"
    STORE_VISIT = "store_visit"
    MEMBERSHIP = "membership"
    IDENTIFY = "identify"
    OFFER_PRESENTED = "offer_presented"
    OFFER_RESPONSE = "offer_response"
    ERASE = "erase"
    CONSENT = "consent"
    UNMERGE = "unmerge"
    SURVEY = "survey"


class Channel(StrEnum):
    POS = "pos"
    CALL_CENTRE = "call_centre"
    WEB = "web"
    STORE = "store"
    APP = "app"
    EMAIL = "email"
    SMS = "sms"
    """Text messages: marketing consent is stated per channel, and replies come back by SMS."""


IdentifierKind = Literal["customer_id", "loyalty_id", "phone", "email", "anonymous_id"]


class ConsentPurpose(StrEnum):
    """What the customer consents to: marketing contact, or profiling for personalisation."""

    MARKETING = "marketing"
    PROFILING = "profiling"


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"


class ConsentPayload(Payload):
    """One consent statement (PIPL); its time is the event's occurred_at, the latest wins."""

    purpose: ConsentPurpose
    channel: Channel
    """The channel the statement covers (the envelope's channel is where it was captured)."""
    status: ConsentStatus
    source: Text
    """Where the statement was captured, e.g. "pos-signup-form", "web-preferences"."""


class SurveyScores(Payload):
    """The scores of a satisfaction survey: CSAT 1-5 and/or NPS 0-10 (at least one)."""

    csat: Annotated[int, Field(ge=1, le=5)] | None = None
    nps: Annotated[int, Field(ge=0, le=10)] | None = None

    @model_validator(mode="after")
    def _at_least_one_score(self) -> SurveyScores:
        if self.csat is None and self.nps is None:
            raise ValueError("a survey needs csat (1-5) or nps (0-10)")
        return self


class SurveyPayload(SurveyScores):
    """A survey answer; `comment` is free text that may hold personal data: sealed before Kafka."""

    comment: LongText | None = None

"""Per-type payloads of the event contract (schema version 1). Money is Decimal, never float."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]


def in_utc(value: datetime) -> datetime:
    """The same instant in UTC; one that UTC cannot express (year 1 or 9999 edges) is invalid."""
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("timestamp out of range once converted to UTC") from exc


class Payload(BaseModel):
    """Base of every payload: unknown fields are refused so typos are caught at the door."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Item(Payload):
    sku: Text
    category: Text
    quantity: Annotated[int, Field(gt=0, le=10_000)]
    unit_price: Money


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


class Commitment(Payload):
    """What an agent quoted or promised the customer, until when (`text` is sealed)."""

    commitment_id: Text
    text: LongText
    due_at: AwareDatetime

    @field_validator("due_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return in_utc(value)


class CallPayload(Payload):
    """`reason`, `note` and the commitment's text are free text: sealed before Kafka."""

    reason: Text
    duration_seconds: Annotated[int, Field(ge=0, le=86_400)]
    outcome: CallOutcome
    note: LongText | None = None
    commitment: Commitment | None = None


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


class ComplaintStep(Payload):
    """A step of a complaint's life after its opening (plain and wire forms share it)."""

    complaint_id: Text


class ComplaintAssignedPayload(ComplaintStep):
    """The complaint is acknowledged and has an owner (an agent or a team)."""

    owner: Text


class ComplaintEscalation(ComplaintStep):
    """Who the complaint goes up to."""

    escalated_to: Text


class ComplaintEscalatedPayload(ComplaintEscalation):
    """`reason` is free text, sealed before Kafka."""

    reason: LongText | None = None


class ComplaintRemedyPayload(ComplaintStep):
    """A remedy offered to the customer; `remedy` is free text, sealed before Kafka."""

    remedy: LongText


class ComplaintFollowUp(ComplaintStep):
    """The customer's satisfaction after the complaint, 1 (very unhappy) to 5."""

    satisfaction: Annotated[int, Field(ge=1, le=5)]


class ComplaintFollowUpPayload(ComplaintFollowUp):
    """`comment` is free text, sealed before Kafka."""

    comment: LongText | None = None


class CommitmentStep(Payload):
    """An event about a commitment made earlier (plain and wire forms share it)."""

    commitment_id: Text


class CommitmentFulfilledPayload(CommitmentStep):
    """A commitment made on a call or a visit was kept; `note` is sealed."""

    note: LongText | None = None


class PageViewPayload(Payload):
    url: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    category: Text | None = None
    sku: Text | None = None


class StoreVisit(Payload):
    """What a store visit says in plain and on the wire alike."""

    zone: Text
    category: Text | None = None
    dwell_seconds: Annotated[int, Field(ge=0, le=86_400)] | None = None


class StoreVisitPayload(StoreVisit):
    """`note` and the commitment's text are free text: sealed before Kafka."""

    note: LongText | None = None
    commitment: Commitment | None = None


class MembershipAction(StrEnum):
    JOINED = "joined"
    LEFT = "left"
    TIER_CHANGED = "tier_changed"


class MembershipPayload(Payload):
    action: MembershipAction
    tier: Text | None = None


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
    COMPLAINT_ASSIGNED = "complaint_assigned"
    COMPLAINT_ESCALATED = "complaint_escalated"
    COMPLAINT_REMEDY = "complaint_remedy"
    COMPLAINT_FOLLOW_UP = "complaint_follow_up"
    COMMITMENT_FULFILLED = "commitment_fulfilled"
    PAGE_VIEW = "page_view"
    STORE_VISIT = "store_visit"
    MEMBERSHIP = "membership"
    IDENTIFY = "identify"
    OFFER_PRESENTED = "offer_presented"
    OFFER_RESPONSE = "offer_response"
    ERASE = "erase"
    CONSENT = "consent"
    UNMERGE = "unmerge"


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

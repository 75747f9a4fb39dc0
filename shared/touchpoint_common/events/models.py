"""Events as clients post them (EventIn) and as they are written to Kafka (InteractionEvent).

Schema version 1. The wire form never carries personal data in plain text, nor anything that
could be linked back to a person once their key is destroyed: identifiers travel only as a
value sealed with the customer's own key (their HMAC digests stay in the identity tables, which
erasure deletes; `digest` is kept as an optional field that ingest leaves empty, so records
written before this change still parse), and free text (every field named in
`events.sealed.SEALED_FIELDS`: complaint texts, call reasons, notes and commitments, erase
reasons; and page-view query strings) is sealed the same way.
Destroying the customer's key shreds all of it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from touchpoint_common.events.payloads import (
    CallOutcome,
    CallPayload,
    Channel,
    CommitmentFulfilledPayload,
    CommitmentStep,
    ComplaintAssignedPayload,
    ComplaintEscalatedPayload,
    ComplaintEscalation,
    ComplaintFollowUp,
    ComplaintFollowUpPayload,
    ComplaintPayload,
    ComplaintRemedyPayload,
    ComplaintResolvedPayload,
    ComplaintStep,
    ConsentPayload,
    ErasePayload,
    EventType,
    IdentifierKind,
    MembershipPayload,
    OfferPresentedPayload,
    OfferResponsePayload,
    PageViewPayload,
    Payload,
    PurchasePayload,
    ReturnPayload,
    Severity,
    StoreVisit,
    StoreVisitPayload,
    Text,
    UnmergePayload,
    in_utc,
)

SCHEMA_VERSION: Literal[1] = 1

IdentifierValue = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=320)
]
NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f]*$"
"""A pattern for identifiers taken from paths and queries: PostgreSQL text refuses NUL."""
Reference = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class CustomerRef(BaseModel):
    """Who the event is about: at least one identifier. Values are normalised by ingest."""

    model_config = ConfigDict(extra="forbid")

    customer_id: Reference | None = None
    loyalty_id: Reference | None = None
    phone: IdentifierValue | None = None
    email: IdentifierValue | None = None
    anonymous_id: Reference | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> CustomerRef:
        if not any(self.items()):
            raise ValueError(
                "at least one identifier is required: customer_id, loyalty_id, phone, email "
                "or anonymous_id"
            )
        return self

    def items(self) -> list[tuple[IdentifierKind, str]]:
        """The identifiers present, as (kind, value) pairs."""
        pairs: list[tuple[IdentifierKind, str]] = [
            ("customer_id", self.customer_id or ""),
            ("loyalty_id", self.loyalty_id or ""),
            ("phone", self.phone or ""),
            ("email", self.email or ""),
            ("anonymous_id", self.anonymous_id or ""),
        ]
        return [(kind, value) for kind, value in pairs if value]


class IdentifyPayload(Payload):
    """Links more identifiers to the event's customer (e.g. anonymous web id to loyalty id)."""

    link: CustomerRef


PAYLOAD_MODELS: dict[EventType, type[Payload]] = {
    EventType.PURCHASE: PurchasePayload,
    EventType.RETURN: ReturnPayload,
    EventType.CALL: CallPayload,
    EventType.COMPLAINT: ComplaintPayload,
    EventType.COMPLAINT_RESOLVED: ComplaintResolvedPayload,
    EventType.COMPLAINT_ASSIGNED: ComplaintAssignedPayload,
    EventType.COMPLAINT_ESCALATED: ComplaintEscalatedPayload,
    EventType.COMPLAINT_REMEDY: ComplaintRemedyPayload,
    EventType.COMPLAINT_FOLLOW_UP: ComplaintFollowUpPayload,
    EventType.COMMITMENT_FULFILLED: CommitmentFulfilledPayload,
    EventType.PAGE_VIEW: PageViewPayload,
    EventType.STORE_VISIT: StoreVisitPayload,
    EventType.MEMBERSHIP: MembershipPayload,
    EventType.IDENTIFY: IdentifyPayload,
    EventType.OFFER_PRESENTED: OfferPresentedPayload,
    EventType.OFFER_RESPONSE: OfferResponsePayload,
    EventType.ERASE: ErasePayload,
    EventType.CONSENT: ConsentPayload,
    EventType.UNMERGE: UnmergePayload,
}


class EventIn(BaseModel):
    """One touchpoint as a client posts it. The payload is validated against its type."""

    model_config = ConfigDict(extra="forbid")

    event_id: UUID | None = None
    type: EventType
    channel: Channel
    occurred_at: AwareDatetime
    customer: CustomerRef
    store_id: Reference | None = None
    agent_id: Reference | None = None
    payload: dict[str, Any] = Field(default_factory=dict)

    @field_validator("occurred_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return in_utc(value)

    def typed_payload(self) -> Payload:
        """The payload parsed as its type's model (raises pydantic.ValidationError)."""
        return PAYLOAD_MODELS[self.type].model_validate(self.payload)


class SealedIdentifier(BaseModel):
    """An identifier on the wire: its kind and its value sealed with the customer's key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: IdentifierKind
    digest: str | None = None
    """Deprecated, always empty from ingest: a digest in the retained log would outlive an
    erasure for anyone holding the HMAC key. Customers are found through the identity tables."""
    sealed: str | None = None


class CommitmentWire(Payload):
    """A commitment on the wire: its text travels sealed."""

    commitment_id: Text
    text_sealed: str
    due_at: AwareDatetime

    @field_validator("due_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return in_utc(value)


class CallWirePayload(Payload):
    """A call on the wire: reason, note and commitment text travel sealed with the key."""

    reason_sealed: str | None = None
    reason: Text | None = None
    """Only in records written before free text was sealed; never shown."""
    duration_seconds: Annotated[int, Field(ge=0, le=86_400)]
    outcome: CallOutcome
    note_sealed: str | None = None
    commitment: CommitmentWire | None = None


class StoreVisitWirePayload(StoreVisit):
    """A store visit on the wire: note and commitment text travel sealed."""

    note_sealed: str | None = None
    commitment: CommitmentWire | None = None


class ComplaintEscalatedWirePayload(ComplaintEscalation):
    """An escalation on the wire: the reason travels sealed."""

    reason_sealed: str | None = None


class ComplaintRemedyWirePayload(ComplaintStep):
    """A remedy on the wire: its text travels sealed."""

    remedy_sealed: str


class ComplaintFollowUpWirePayload(ComplaintFollowUp):
    """A follow-up on the wire: the customer's comment travels sealed."""

    comment_sealed: str | None = None


class CommitmentFulfilledWirePayload(CommitmentStep):
    """A kept commitment on the wire: the note travels sealed."""

    note_sealed: str | None = None


class ComplaintResolvedWirePayload(Payload):
    """A resolved complaint on the wire: the resolution text travels sealed."""

    complaint_id: Text
    resolution_sealed: str | None = None
    resolution: Text | None = None
    """Only in records written before free text was sealed; never shown."""


class PageViewWirePayload(Payload):
    """A page view on the wire: the URL without query or fragment; those travel sealed."""

    url: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    query_sealed: str | None = None
    category: Text | None = None
    sku: Text | None = None


class EraseWirePayload(Payload):
    """An erase on the wire: its free-text reason travels sealed (and dies with the key)."""

    reason_sealed: str | None = None
    reason: Text | None = None
    """Only in records written before free text was sealed; never shown."""


class ComplaintWirePayload(Payload):
    """A complaint on the wire: the free text travels sealed with the customer's key."""

    complaint_id: Text
    category: Text
    severity: Severity
    text_sealed: str | None = None


class IdentifyWirePayload(Payload):
    """An identify on the wire: what was linked, and which customers were merged into this one."""

    linked: list[SealedIdentifier] = Field(default_factory=list)
    merged_customer_ids: list[str] = Field(default_factory=list)


class UnmergeWirePayload(UnmergePayload):
    """An unmerge on the wire: the restored customer, and those once merged into it."""

    followers: list[str] = Field(default_factory=list)


WIRE_PAYLOAD_MODELS: dict[EventType, type[Payload]] = {
    **PAYLOAD_MODELS,
    EventType.CALL: CallWirePayload,
    EventType.STORE_VISIT: StoreVisitWirePayload,
    EventType.COMPLAINT: ComplaintWirePayload,
    EventType.COMPLAINT_RESOLVED: ComplaintResolvedWirePayload,
    EventType.COMPLAINT_ESCALATED: ComplaintEscalatedWirePayload,
    EventType.COMPLAINT_REMEDY: ComplaintRemedyWirePayload,
    EventType.COMPLAINT_FOLLOW_UP: ComplaintFollowUpWirePayload,
    EventType.COMMITMENT_FULFILLED: CommitmentFulfilledWirePayload,
    EventType.PAGE_VIEW: PageViewWirePayload,
    EventType.ERASE: EraseWirePayload,
    EventType.IDENTIFY: IdentifyWirePayload,
    EventType.UNMERGE: UnmergeWirePayload,
}
"""The payload models of InteractionEvent.payload (PAYLOAD_MODELS with the sealed variants)."""


class InteractionEvent(BaseModel):
    """One touchpoint as written to the interactions topic, keyed by customer_id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: UUID
    type: EventType
    channel: Channel
    occurred_at: AwareDatetime
    received_at: AwareDatetime
    customer_id: str
    identifiers: list[SealedIdentifier] = Field(default_factory=list)
    store_id: str | None = None
    agent_id: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    """Type-specific fields; free text is replaced by `<field>_sealed` (see pii.seal)."""

    @field_validator("occurred_at", "received_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return in_utc(value)

    def typed_payload(self) -> Payload:
        """The wire payload parsed as its type's model (raises pydantic.ValidationError)."""
        return WIRE_PAYLOAD_MODELS[self.type].model_validate(self.payload)

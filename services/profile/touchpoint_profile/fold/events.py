"""Events as the fold sees them: the wire event plus its payload parsed by type."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field, ValidationError

from touchpoint_common.events.models import PAYLOAD_MODELS, InteractionEvent, SealedIdentifier
from touchpoint_common.events.payloads import EventType, Payload, Severity, Text


class ContractViolation(ValueError):
    """An event whose payload does not match its type on the wire (goes to the DLQ)."""


class ComplaintWirePayload(Payload):
    """A complaint on the wire: the free text travels sealed, never plain."""

    complaint_id: Text
    category: Text
    severity: Severity
    text_sealed: str | None = None


class IdentifyWirePayload(Payload):
    """An identify on the wire: identifiers linked, customers merged into this one."""

    linked: list[SealedIdentifier] = Field(default_factory=list)
    merged_customer_ids: list[str] = Field(default_factory=list)


WIRE_PAYLOAD_MODELS: dict[EventType, type[Payload]] = {
    **PAYLOAD_MODELS,
    EventType.COMPLAINT: ComplaintWirePayload,
    EventType.IDENTIFY: IdentifyWirePayload,
}


@dataclass(frozen=True, slots=True)
class ParsedEvent:
    """An interaction event whose payload has been checked against its type."""

    event: InteractionEvent
    payload: Payload
    event_id: str
    """The idempotency key as text (computed once: the fold compares it often)."""


def parse_event(event: InteractionEvent) -> ParsedEvent:
    """Check the payload against the wire contract of its type; raise ContractViolation."""
    model = WIRE_PAYLOAD_MODELS[event.type]
    try:
        payload = model.model_validate(event.payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"payload.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ContractViolation(f"{event.type.value} payload: {problems}") from exc
    return ParsedEvent(event=event, payload=payload, event_id=str(event.event_id))

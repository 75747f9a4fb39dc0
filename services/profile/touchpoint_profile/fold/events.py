"""Events as the fold sees them: the wire event plus its payload parsed by type."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError

from touchpoint_common.events.models import WIRE_PAYLOAD_MODELS, InteractionEvent
from touchpoint_common.events.payloads import Payload
from touchpoint_profile.fold.dedup import event_key


class ContractViolation(ValueError):
    """An event whose payload does not match its type on the wire (goes to the DLQ)."""


@dataclass(frozen=True, slots=True)
class ParsedEvent:
    """An interaction event whose payload has been checked against its type."""

    event: InteractionEvent
    payload: Payload
    event_id: str
    """The idempotency key as text (computed once: the fold compares it often)."""
    trace_parent: str | None = None
    """The W3C traceparent its record carried (tracing on): the view row remembers it."""
    dedup_key: int = field(init=False)
    """event_key(event_id): what the dedup sets hold (computed once)."""

    def __post_init__(self) -> None:
        """Compute the dedup key (the dataclass is frozen, hence object.__setattr__)."""
        object.__setattr__(self, "dedup_key", event_key(self.event_id))


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

"""Pure checks of posted events: JSON, envelope, payload by type, identifiers, clock skew."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
from pydantic import ValidationError

from touchpoint_common.events.models import PAYLOAD_MODELS, CustomerRef, EventIn, IdentifyPayload
from touchpoint_common.events.payloads import (
    EventType,
    IdentifierKind,
    OfferPresentedPayload,
    Payload,
)
from touchpoint_common.identity.pii import InvalidIdentifier, KeyRing
from touchpoint_common.identity.store import Identifier, make_identifier
from touchpoint_common.observability.tracing import TraceContext

_EVENT_TYPES = {member.value for member in EventType}
_PERSONAL_KINDS: tuple[IdentifierKind, ...] = ("loyalty_id", "phone", "email", "anonymous_id")
Path = Sequence[str | int]
INT4_MAX = 2**31 - 1  # recommend stores an offer's rank in a PostgreSQL integer
# Kafka record timestamps and the fold's clock start at the Unix epoch.
EARLIEST_OCCURRED_AT = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Violation:
    """One problem with the input: where (its path in the request body), why, and its code."""

    path: tuple[str | int, ...]
    reason: str
    code: str

    @classmethod
    def at(cls, path: Path, reason: str, code: str) -> Violation:
        """A violation at this path (any sequence of keys and indexes)."""
        return cls(path=tuple(path), reason=reason, code=code)


class MalformedBody(ValueError):
    """The body is not JSON at all; the message says where it breaks."""


@dataclass(frozen=True, kw_only=True)
class Rules:
    """What validation needs from the settings."""

    hmac_key: bytes
    default_region: str
    max_future_skew: timedelta
    hmac_ring: KeyRing | None = None
    """Current and older HMAC keys by id: identifiers are also digested under the older ones."""


@dataclass(frozen=True, kw_only=True)
class IdentitySpec:
    """Who an event (or an identify's link) names: a direct customer_id and/or identifiers."""

    customer_id: str | None
    identifiers: tuple[Identifier, ...]


@dataclass(frozen=True, kw_only=True)
class ValidEvent:
    """An event that passed every check, with its identifiers normalised and digested."""

    event: EventIn
    event_id: UUID
    payload: Payload
    customer: IdentitySpec
    link: IdentitySpec | None = None
    fingerprint: str = field(repr=False)
    may_link: bool = False
    """Whether the sender holds `identity:link`: only then may the event link identifiers
    across customers, merge or unmerge (the safe default refuses that, see docs/ingest.md)."""
    trace: TraceContext | None = field(default=None, compare=False, repr=False)
    """The trace context of the request that carried the event (tracing on): its record's
    `traceparent`, although a coalesced pass publishes it from another task."""


def parse_json(body: bytes) -> Any:
    """JSON with exact decimals (money is never a float); NaN and Infinity are refused."""
    try:
        return json.loads(body, parse_float=Decimal, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedBody(f"the body is not valid JSON: {exc}") from exc


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def validate_event(
    raw: object, *, now: datetime, rules: Rules, path: Path = ("body",), may_link: bool = False
) -> ValidEvent | list[Violation]:
    """Check one event; return it normalised, or every problem found with its path."""
    prefix = tuple(path)
    if not isinstance(raw, dict):
        return [Violation.at(prefix, "an event must be a JSON object", "dict_type")]
    errors: list[Violation] = []
    event = _parse_envelope(raw, prefix, errors)
    payload = _parse_payload(raw, prefix, errors)
    customer = _parse_identity(raw.get("customer"), (*prefix, "customer"), rules, errors)
    link = None
    if isinstance(payload, IdentifyPayload):
        link_raw = payload.link.model_dump(exclude_none=True)
        link = _parse_identity(link_raw, (*prefix, "payload", "link"), rules, errors)
    if isinstance(payload, OfferPresentedPayload):
        errors.extend(
            Violation.at(
                (*prefix, "payload", "offers", index, "rank"),
                f"rank must be at most {INT4_MAX} (it is stored as an integer)",
                "less_than_equal",
            )
            for index, offer in enumerate(payload.offers)
            if offer.rank > INT4_MAX
        )
    if event is not None and event.occurred_at < EARLIEST_OCCURRED_AT:
        errors.append(
            Violation.at(
                (*prefix, "occurred_at"), "occurred_at lies before 1970-01-01", "past_timestamp"
            )
        )
    if event is not None and event.occurred_at > now + rules.max_future_skew:
        errors.append(
            Violation.at(
                (*prefix, "occurred_at"),
                f"occurred_at lies more than {rules.max_future_skew.total_seconds():g} s "
                "in the future",
                "future_timestamp",
            )
        )
    if errors or event is None or payload is None or customer is None:
        return errors
    event_id = event.event_id or uuid.uuid4()
    return ValidEvent(
        event=event,
        event_id=event_id,
        payload=payload,
        customer=customer,
        link=link,
        fingerprint=fingerprint(event, payload, customer, key=rules.hmac_key),
        may_link=may_link,
    )


def _parse_envelope(raw: dict[str, Any], prefix: Path, errors: list[Violation]) -> EventIn | None:
    try:
        return EventIn.model_validate(raw)
    except ValidationError as exc:
        errors.extend(_violations(exc, prefix))
        return None


def _parse_payload(raw: dict[str, Any], prefix: Path, errors: list[Violation]) -> Payload | None:
    kind, payload = raw.get("type"), raw.get("payload", {})
    if not isinstance(kind, str) or kind not in _EVENT_TYPES or not isinstance(payload, dict):
        return None  # the envelope's errors already name type or payload
    try:
        return PAYLOAD_MODELS[EventType(kind)].model_validate(payload)
    except ValidationError as exc:
        errors.extend(_violations(exc, (*prefix, "payload")))
        return None


def _parse_identity(
    raw: object, prefix: Path, rules: Rules, errors: list[Violation]
) -> IdentitySpec | None:
    try:
        ref = CustomerRef.model_validate(raw)
    except ValidationError:
        return None  # reported by the envelope (or the payload model for a link)
    identifiers: list[Identifier] = []
    ok = True
    for kind, value in ref.items():
        if kind not in _PERSONAL_KINDS:
            continue
        try:
            identifiers.append(
                make_identifier(
                    kind,
                    value,
                    hmac_key=rules.hmac_ring or rules.hmac_key,
                    default_region=rules.default_region,
                )
            )
        except InvalidIdentifier as exc:
            errors.append(Violation.at((*prefix, kind), str(exc), "invalid_identifier"))
            ok = False
    if not ok:
        return None
    return IdentitySpec(customer_id=ref.customer_id, identifiers=tuple(identifiers))


def _violations(exc: ValidationError, prefix: Path) -> list[Violation]:
    """Pydantic errors as paths and reasons; the offending input is never echoed back."""
    return [
        Violation.at((*prefix, *error["loc"]), error["msg"], error["type"])
        for error in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


def fingerprint(event: EventIn, payload: Payload, customer: IdentitySpec, *, key: bytes) -> str:
    """Keyed hash of what the event says (not its id): tells a retry from a reused event_id."""
    content = {
        "type": event.type.value,
        "channel": event.channel.value,
        "occurred_at": event.occurred_at.isoformat(),
        "customer_id": customer.customer_id,
        "identifiers": sorted(ident.digest for ident in customer.identifiers),
        "store_id": event.store_id,
        "agent_id": event.agent_id,
        "payload": payload.model_dump(mode="json"),
    }
    message = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
    return hmac.new(key, message, hashlib.sha256).hexdigest()

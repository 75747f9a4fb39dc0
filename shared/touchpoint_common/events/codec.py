"""Serialisation of InteractionEvent for Kafka: orjson bytes plus descriptive headers."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from touchpoint_common.events.models import SCHEMA_VERSION, InteractionEvent
from touchpoint_common.events.payloads import EventType

CONTENT_TYPE = "application/json"
Headers = list[tuple[str, bytes]]


class InteractionHeaders(BaseModel):
    """The headers of an interactions record (UTF-8 strings on the wire), so tools can route
    and filter without decoding the value. Published as contracts/ JSON Schema."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    event_id: UUID
    event_type: EventType
    schema_version: Literal["1"] = "1"
    content_type: Literal["application/json"] = Field(
        default="application/json", alias="content-type"
    )


class InteractionKey(BaseModel):
    """The record key: the resolved customer_id (UTF-8), so a customer's events share a
    partition and arrive in order."""

    customer_id: str = Field(min_length=1)


class UndecodableEvent(Exception):
    """A record that is not a valid InteractionEvent; `reason` says why (for the DLQ)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def encode_event(event: InteractionEvent) -> bytes:
    """The record value: compact JSON, decimals as strings, datetimes as RFC 3339 UTC."""
    return orjson.dumps(event.model_dump(mode="json"))


def encode_key(event: InteractionEvent) -> bytes:
    """The record key: the resolved customer id, so a customer's events share a partition."""
    return event.customer_id.encode()


def build_headers(event: InteractionEvent) -> Headers:
    """Headers that let tools route and filter without decoding the body."""
    headers = InteractionHeaders(
        event_id=event.event_id, event_type=event.type, schema_version=str(SCHEMA_VERSION)
    )
    return [
        (name, str(value).encode())
        for name, value in headers.model_dump(mode="json", by_alias=True).items()
    ]


def decode_event(value: bytes | None) -> InteractionEvent:
    """Parse a record value; raise UndecodableEvent with a reason fit for the dead-letter topic."""
    if value is None:
        raise UndecodableEvent("empty record value (tombstone)")
    try:
        raw: Any = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise UndecodableEvent(f"not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise UndecodableEvent("record value is not a JSON object")
    version = raw.get("schema_version")
    if version != SCHEMA_VERSION:
        raise UndecodableEvent(f"unsupported schema_version {version!r}")
    try:
        return InteractionEvent.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise UndecodableEvent(f"contract violation: {problems}") from exc

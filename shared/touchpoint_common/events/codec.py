"""Serialisation of InteractionEvent for Kafka: orjson bytes plus descriptive headers."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from touchpoint_common.events.models import SCHEMA_VERSION, InteractionEvent

CONTENT_TYPE = "application/json"
Headers = list[tuple[str, bytes]]


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
    return [
        ("event_id", str(event.event_id).encode()),
        ("event_type", event.type.value.encode()),
        ("schema_version", str(SCHEMA_VERSION).encode()),
        ("content-type", CONTENT_TYPE.encode()),
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

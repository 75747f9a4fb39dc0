"""Pure construction of the InteractionEvent written to Kafka (TEAM.md wire contract)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from touchpoint_common.events.models import InteractionEvent, SealedIdentifier
from touchpoint_common.events.payloads import PageViewPayload, UnmergePayload
from touchpoint_common.events.sealed import (
    COMPLAINT_TEXT_CONTEXT,
    PAGE_QUERY_CONTEXT,
    SEALED_FIELDS,
    SealedField,
)
from touchpoint_common.identity import pii
from touchpoint_common.identity.store import Identifier, ResolvedCustomer
from touchpoint_ingest.events.validation import ValidEvent

__all__ = [
    "COMPLAINT_TEXT_CONTEXT",
    "PAGE_QUERY_CONTEXT",
    "build_interaction",
    "build_wire_payload",
    "seal_identifiers",
    "seal_page_url",
    "seal_text_fields",
]


def seal_identifiers(
    identifiers: Iterable[Identifier], *, data_key: bytes
) -> list[SealedIdentifier]:
    """Identifiers as they travel: kind and sealed value only (no digest: see models)."""
    return [
        SealedIdentifier(
            kind=ident.kind, sealed=pii.seal(ident.value, data_key=data_key, context=ident.kind)
        )
        for ident in identifiers
    ]


def build_wire_payload(valid: ValidEvent, resolved: ResolvedCustomer) -> dict[str, Any]:
    """The type's payload with personal data sealed: complaint text, identify's links."""
    if valid.link is not None:
        linked = seal_identifiers(valid.link.identifiers, data_key=resolved.data_key)
        return {
            "linked": [item.model_dump(mode="json", exclude_none=True) for item in linked],
            "merged_customer_ids": list(resolved.merged_customer_ids),
        }
    payload = valid.payload.model_dump(mode="json", exclude_none=True)
    if isinstance(valid.payload, UnmergePayload):
        payload["followers"] = list(resolved.unmerged_followers)
    seal_text_fields(payload, SEALED_FIELDS.get(valid.event.type, ()), data_key=resolved.data_key)
    if isinstance(valid.payload, PageViewPayload):
        payload.update(seal_page_url(valid.payload.url, data_key=resolved.data_key))
    return payload


def seal_text_fields(
    payload: dict[str, Any], fields: Iterable[SealedField], *, data_key: bytes
) -> None:
    """Replace each free-text field present by `<name>_sealed` (in place, nested included)."""
    for field in fields:
        *parents, name = field.path
        holder: Any = payload
        for parent in parents:
            holder = holder.get(parent) if isinstance(holder, dict) else None
        if isinstance(holder, dict) and (plain := holder.pop(name, None)) is not None:
            holder[field.wire_name] = pii.seal(plain, data_key=data_key, context=field.context)


def seal_page_url(url: str, *, data_key: bytes) -> dict[str, str]:
    """The URL without query and fragment, which travel sealed (they may carry e-mails, ids)."""
    parts = urlsplit(url)
    hidden = parts.query + (f"#{parts.fragment}" if parts.fragment else "")
    shown = {"url": urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")) or "/"}
    if hidden:
        shown["query_sealed"] = pii.seal(hidden, data_key=data_key, context=PAGE_QUERY_CONTEXT)
    return shown


def build_interaction(
    valid: ValidEvent, resolved: ResolvedCustomer, *, received_at: datetime
) -> InteractionEvent:
    """The record value for one accepted event, keyed by the resolved customer."""
    event = valid.event
    return InteractionEvent(
        event_id=valid.event_id,
        type=event.type,
        channel=event.channel,
        occurred_at=event.occurred_at,
        received_at=received_at,
        customer_id=resolved.customer_id,
        identifiers=seal_identifiers(valid.customer.identifiers, data_key=resolved.data_key),
        store_id=event.store_id,
        agent_id=event.agent_id,
        payload=build_wire_payload(valid, resolved),
    )

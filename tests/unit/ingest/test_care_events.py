"""Complaint lifecycle, notes and commitments at the door: each bad field named, and every
free text sealed on the wire (nothing of it in the record in clear)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from touchpoint_common.events.codec import encode_event
from touchpoint_common.events.payloads import EventType
from touchpoint_common.events.sealed import SEALED_FIELDS
from touchpoint_common.identity import pii
from touchpoint_common.identity.store import ResolvedCustomer
from touchpoint_ingest.events.examples import EVENT_EXAMPLES
from touchpoint_ingest.events.validation import Rules, ValidEvent, validate_event
from touchpoint_ingest.events.wire import build_interaction

RULES = Rules(hmac_key=b"k" * 32, default_region="CN", max_future_skew=timedelta(minutes=5))
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
KEY = pii.new_data_key()
CARE_TYPES = [
    "complaint_assigned",
    "complaint_escalated",
    "complaint_remedy",
    "complaint_follow_up",
    "commitment_fulfilled",
]


def example(kind: str) -> dict[str, Any]:
    """A deep copy of the documented example of this kind."""
    return copy.deepcopy(EVENT_EXAMPLES[kind])


def violations(raw: dict[str, Any]) -> dict[tuple[str | int, ...], str]:
    """path -> code of every violation (the event must be refused)."""
    result = validate_event(raw, now=NOW, rules=RULES)
    assert isinstance(result, list), "expected the event to be refused"
    return {violation.path: violation.code for violation in result}


@pytest.mark.parametrize(
    ("kind", "change", "path"),
    [
        ("complaint_follow_up", {"satisfaction": 6}, ("satisfaction",)),
        ("complaint_follow_up", {"satisfaction": 0}, ("satisfaction",)),
        ("complaint_follow_up", {"satisfaction": None}, ("satisfaction",)),
        ("complaint_assigned", {"owner": ""}, ("owner",)),
        ("complaint_escalated", {"escalated_to": None}, ("escalated_to",)),
        ("complaint_escalated", {"reason": "x" * 4001}, ("reason",)),
        ("complaint_remedy", {"remedy": " "}, ("remedy",)),
        ("commitment_fulfilled", {"commitment_id": None}, ("commitment_id",)),
        ("call", {"note": ""}, ("note",)),
        ("call", {"commitment": {"commitment_id": "P", "text": "t"}}, ("commitment", "due_at")),
        (
            "call",
            {"commitment": {"commitment_id": "P", "text": "t", "due_at": "2026-12-01T10:00"}},
            ("commitment", "due_at"),
        ),
        (
            "store_visit",
            {"commitment": {"text": "t", "due_at": "2026-12-01T10:00Z"}},
            ("commitment", "commitment_id"),
        ),
    ],
)
def test_a_bad_field_is_refused_at_its_path(
    kind: str, change: dict[str, Any], path: tuple[str, ...]
) -> None:
    """Each wrong field of the new payloads comes back with its path under body.payload."""
    raw = example(kind)
    for name, value in change.items():
        if value is None and name in raw["payload"]:
            del raw["payload"][name]
        elif value is not None:
            raw["payload"][name] = value
    assert ("body", "payload", *path) in violations(raw)


@pytest.mark.parametrize("kind", ["call", "store_visit", "complaint", *CARE_TYPES[1:]])
def test_every_free_text_travels_sealed_and_opens_with_its_context(kind: str) -> None:
    """Each field of SEALED_FIELDS is replaced by `<name>_sealed` at the same place, opens with
    the customer's key under its context, and the plain text is nowhere in the record."""
    raw = example(kind)
    if kind == "store_visit":
        raw["payload"]["commitment"] = {
            "commitment_id": "P-1",
            "text": "Hold the blue set until Saturday.",
            "due_at": "2026-11-28T18:00:00+08:00",
        }
    result = validate_event(raw, now=NOW, rules=RULES)
    assert isinstance(result, ValidEvent), result
    wire = build_interaction(result, ResolvedCustomer("c-1", KEY), received_at=NOW)
    record = encode_event(wire).decode()
    checked = 0
    for field in SEALED_FIELDS[EventType(kind)]:
        *parents, name = field.path
        plain_holder, wire_holder = raw["payload"], wire.payload
        for parent in parents:
            plain_holder, wire_holder = plain_holder.get(parent, {}), wire_holder.get(parent, {})
        if name not in plain_holder:
            continue
        assert name not in wire_holder
        opened = pii.open_sealed(wire_holder[field.wire_name], data_key=KEY, context=field.context)
        assert opened == plain_holder[name]
        assert plain_holder[name] not in record
        checked += 1
    assert checked >= 1
    wire.typed_payload()  # the fold's contract accepts what ingest writes


def test_a_commitment_due_time_is_kept_in_utc() -> None:
    """due_at with an offset is the same instant in UTC on the wire."""
    result = validate_event(example("call"), now=NOW, rules=RULES)
    assert isinstance(result, ValidEvent)
    wire = build_interaction(result, ResolvedCustomer("c-1", KEY), received_at=NOW)
    assert wire.payload["commitment"]["due_at"] == "2026-11-26T04:00:00Z"

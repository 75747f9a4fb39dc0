"""Building the Kafka record: sealed identifiers and text, identify shape, codec round trip."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from touchpoint_common.events.codec import build_headers, decode_event, encode_event, encode_key
from touchpoint_common.identity import pii
from touchpoint_common.identity.store import ResolvedCustomer
from touchpoint_ingest.events.examples import EVENT_EXAMPLES
from touchpoint_ingest.events.validation import Rules, ValidEvent, validate_event
from touchpoint_ingest.events.wire import (
    COMPLAINT_TEXT_CONTEXT,
    PAGE_QUERY_CONTEXT,
    build_interaction,
)

RULES = Rules(hmac_key=b"k" * 32, default_region="CN", max_future_skew=timedelta(minutes=5))
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
KEY = pii.new_data_key()


def validated(kind: str) -> ValidEvent:
    result = validate_event(copy.deepcopy(EVENT_EXAMPLES[kind]), now=NOW, rules=RULES)
    assert isinstance(result, ValidEvent)
    return result


def test_complaint_text_travels_sealed_only() -> None:
    """The free text is replaced by text_sealed, which opens with the customer's key."""
    valid = validated("complaint")
    wire = build_interaction(valid, ResolvedCustomer("c-1", KEY), received_at=NOW)
    assert "text" not in wire.payload
    text = pii.open_sealed(
        wire.payload["text_sealed"], data_key=KEY, context=COMPLAINT_TEXT_CONTEXT
    )
    assert text == EVENT_EXAMPLES["complaint"]["payload"]["text"]
    assert wire.typed_payload().model_dump()["text_sealed"] == wire.payload["text_sealed"]


def test_identifiers_are_sealed_values_without_digest_never_plain() -> None:
    """Each identifier carries only a value sealed under the customer's key: no HMAC digest
    (it would let a key holder link the retained log to a person after an erasure)."""
    valid = validated("purchase")
    wire = build_interaction(valid, ResolvedCustomer("c-1", KEY), received_at=NOW)
    body = encode_event(wire).decode()
    assert "1234 5678" not in body
    assert "13812345678" not in body
    assert "L-100234" not in body
    kinds = {ident.kind: ident for ident in wire.identifiers}
    assert set(kinds) == {"loyalty_id", "phone"}
    phone = kinds["phone"]
    assert phone.sealed is not None
    assert pii.open_sealed(phone.sealed, data_key=KEY, context="phone") == "+8613812345678"
    assert phone.digest is None
    assert pii.digest_identifier("phone", "+8613812345678", key=RULES.hmac_key) not in body


@pytest.mark.parametrize(
    ("kind", "field", "context"),
    [
        ("call", "reason", "call_reason"),
        ("complaint_resolved", "resolution", "complaint_resolution"),
        ("erase", "reason", "erase_reason"),
        ("survey", "comment", "survey_comment"),
    ],
)
def test_free_text_travels_sealed_only(kind: str, field: str, context: str) -> None:
    """Call reason, complaint resolution, erase reason and survey comment are replaced by
    `<field>_sealed`, which opens with the customer's key, and the wire payload model accepts
    the result."""
    wire = build_interaction(validated(kind), ResolvedCustomer("c-1", KEY), received_at=NOW)
    assert field not in wire.payload
    opened = pii.open_sealed(wire.payload[f"{field}_sealed"], data_key=KEY, context=context)
    assert opened == EVENT_EXAMPLES[kind]["payload"][field]
    assert getattr(wire.typed_payload(), f"{field}_sealed") == wire.payload[f"{field}_sealed"]


def test_page_view_query_and_fragment_travel_sealed() -> None:
    """The URL keeps scheme, host and path; query and fragment travel sealed together."""
    example = copy.deepcopy(EVENT_EXAMPLES["page_view"])
    example["payload"]["url"] = "https://shop.example/p/TEA?email=li%40example.com#top"
    valid = validate_event(example, now=NOW, rules=RULES)
    assert isinstance(valid, ValidEvent)
    wire = build_interaction(valid, ResolvedCustomer("c-1", KEY), received_at=NOW)
    assert wire.payload["url"] == "https://shop.example/p/TEA"
    query = pii.open_sealed(wire.payload["query_sealed"], data_key=KEY, context=PAGE_QUERY_CONTEXT)
    assert query == "email=li%40example.com#top"
    plain = build_interaction(validated("page_view"), ResolvedCustomer("c-1", KEY), received_at=NOW)
    assert "query_sealed" not in plain.payload


def test_identify_payload_lists_links_and_merges() -> None:
    """identify on the wire: {"linked": [sealed identifiers], "merged_customer_ids": [...]}."""
    valid = validated("identify")
    resolved = ResolvedCustomer("c-member", KEY, merged_customer_ids=("c-anon",))
    wire = build_interaction(valid, resolved, received_at=NOW)
    assert wire.payload["merged_customer_ids"] == ["c-anon"]
    linked = {item["kind"]: item for item in wire.payload["linked"]}
    assert set(linked) == {"loyalty_id", "email"}
    email = pii.open_sealed(linked["email"]["sealed"], data_key=KEY, context="email")
    assert email == "li.wei@example.com"
    assert wire.typed_payload().model_dump()["merged_customer_ids"] == ["c-anon"]


def test_record_round_trips_with_key_and_headers() -> None:
    """Key = customer_id; headers name event id, type, schema version; value decodes equal."""
    valid = validated("purchase")
    wire = build_interaction(valid, ResolvedCustomer("c-42", KEY), received_at=NOW)
    assert encode_key(wire) == b"c-42"
    headers = dict(build_headers(wire))
    assert headers["event_id"] == str(valid.event_id).encode()
    assert headers["event_type"] == b"purchase"
    decoded = decode_event(encode_event(wire))
    assert decoded == wire
    assert decoded.payload["amount"] == "359.70"
    assert decoded.received_at == NOW


def test_every_type_builds_a_contract_valid_record() -> None:
    """For each example type the wire payload validates against the wire payload model."""
    for kind in EVENT_EXAMPLES:
        wire = build_interaction(validated(kind), ResolvedCustomer("c", KEY), received_at=NOW)
        decoded = decode_event(encode_event(wire))
        decoded.typed_payload()  # raises when the wire payload breaks the contract

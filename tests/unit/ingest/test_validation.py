"""Validation of posted events: paths and reasons, normalisation, exact money, clock skew."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from touchpoint_ingest.events.examples import EVENT_EXAMPLES
from touchpoint_ingest.events.validation import (
    MalformedBody,
    Rules,
    ValidEvent,
    Violation,
    parse_json,
    validate_event,
)

RULES = Rules(hmac_key=b"k" * 32, default_region="CN", max_future_skew=timedelta(minutes=5))
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def check(raw: object, *, now: datetime = NOW) -> ValidEvent | list[Violation]:
    return validate_event(raw, now=now, rules=RULES)


def valid(raw: object) -> ValidEvent:
    result = check(raw)
    assert isinstance(result, ValidEvent), result
    return result


def errors(raw: object) -> dict[tuple[str | int, ...], Violation]:
    result = check(raw)
    assert isinstance(result, list), "expected validation errors"
    return {error.path: error for error in result}


def example(kind: str) -> dict[str, Any]:
    return copy.deepcopy(EVENT_EXAMPLES[kind])


@pytest.mark.parametrize("kind", sorted(EVENT_EXAMPLES))
def test_every_documented_example_is_valid(kind: str) -> None:
    """The OpenAPI examples are real: each one passes validation as its own type."""
    event = valid(example(kind))
    assert event.event.type.value == kind


def test_unknown_type_is_named() -> None:
    """An unknown type is reported at `type`, listing what is allowed."""
    raw = example("call")
    raw["type"] = "teleport"
    found = errors(raw)
    assert set(found) == {("body", "type")}
    assert "purchase" in found[("body", "type")].reason


def test_missing_identifiers_are_named() -> None:
    """A customer with no identifier at all is refused at `customer`."""
    raw = example("call")
    raw["customer"] = {}
    assert ("body", "customer") in errors(raw)
    del raw["customer"]
    assert ("body", "customer") in errors(raw)


def test_every_bad_field_is_reported_at_once() -> None:
    """Envelope, payload and identifier problems come back together, each with its path."""
    raw = example("purchase")
    raw["channel"] = "fax"
    raw["customer"] = {"phone": "12", "email": "no-at-sign"}
    raw["payload"]["items"][0]["quantity"] = -2
    raw["payload"]["amount"] = "-1"
    raw["payload"]["colour"] = "red"
    found = errors(raw)
    assert {
        ("body", "channel"),
        ("body", "customer", "phone"),
        ("body", "customer", "email"),
        ("body", "payload", "items", 0, "quantity"),
        ("body", "payload", "amount"),
        ("body", "payload", "colour"),
    } <= set(found)
    assert "greater than 0" in found[("body", "payload", "items", 0, "quantity")].reason


def test_batch_items_get_their_index_in_the_path() -> None:
    """Inside a batch the path starts with events/<index>."""
    raw = example("page_view")
    raw["payload"] = {}
    result = validate_event(raw, now=NOW, rules=RULES, path=["body", "events", 7])
    assert isinstance(result, list)
    assert result[0].path == ("body", "events", 7, "payload", "url")


def test_identify_link_identifiers_are_checked() -> None:
    """The identifiers an identify links are normalised and checked like the customer's."""
    raw = example("identify")
    raw["payload"]["link"] = {"email": "not an e-mail"}
    assert ("body", "payload", "link", "email") in errors(raw)
    raw["payload"]["link"] = {}
    assert ("body", "payload", "link") in errors(raw)


def test_future_skew_is_configurable() -> None:
    """occurred_at may run ahead of our clock by the skew, not more; offsets are honoured."""
    raw = example("page_view")
    raw["occurred_at"] = (NOW + timedelta(minutes=4)).isoformat()
    assert isinstance(check(raw), ValidEvent)
    raw["occurred_at"] = (NOW + timedelta(minutes=6)).isoformat()
    assert "future" in errors(raw)[("body", "occurred_at")].reason
    local = NOW.replace(tzinfo=None) + timedelta(hours=8)  # the same instant, in Shanghai
    raw["occurred_at"] = (local + timedelta(minutes=4)).isoformat() + "+08:00"
    assert isinstance(check(raw), ValidEvent)
    raw["occurred_at"] = (local + timedelta(minutes=6)).isoformat() + "+08:00"
    assert ("body", "occurred_at") in errors(raw)


def test_occurred_at_needs_an_offset_and_is_stored_in_utc() -> None:
    """A timestamp without offset is ambiguous and refused; one with an offset becomes UTC."""
    raw = example("call")
    raw["occurred_at"] = "2026-11-23T10:15:00"
    assert ("body", "occurred_at") in errors(raw)
    raw["occurred_at"] = "2026-11-23T10:15:00+08:00"
    event = valid(raw)
    assert event.event.occurred_at == datetime(2026, 11, 23, 2, 15, tzinfo=UTC)


def test_phone_and_email_are_normalised_before_keying() -> None:
    """Different spellings of one phone or e-mail give the same digest."""
    a, b = example("call"), example("call")
    a["customer"] = {"phone": "138 1234 5678", "email": " Li.Wei@Example.COM "}
    b["customer"] = {"phone": "+86-138-1234-5678", "email": "li.wei@example.com"}
    ea, eb = valid(a), valid(b)
    assert [i.digest for i in ea.customer.identifiers] == [
        i.digest for i in eb.customer.identifiers
    ]
    assert ea.customer.identifiers[0].value == "+8613812345678"
    assert ea.fingerprint == eb.fingerprint


def test_errors_never_echo_the_input() -> None:
    """Error messages name the field, not the personal data that was in it."""
    raw = example("call")
    raw["customer"] = {"phone": "+86 999", "email": "secret-person@@example.com"}
    raw["secret-person@example.com"] = "x"
    text = " ".join(error.reason for error in errors(raw).values())
    assert "secret-person" not in text
    assert "999" not in text


def test_event_id_is_kept_or_generated() -> None:
    """A client's event_id is the idempotency key; without one, a fresh UUID is assigned."""
    raw = example("purchase")
    assert str(valid(raw).event_id) == raw["event_id"]
    del raw["event_id"]
    first, second = valid(raw).event_id, valid(raw).event_id
    assert first != second
    raw["event_id"] = "not-a-uuid"
    assert ("body", "event_id") in errors(raw)


def test_fingerprint_tells_a_retry_from_a_different_event() -> None:
    """Same content: same fingerprint; any change of content: a different one."""
    raw = example("purchase")
    base = valid(raw).fingerprint
    assert valid(copy.deepcopy(raw)).fingerprint == base
    raw["payload"]["amount"] = "359.71"
    assert valid(raw).fingerprint != base


def test_json_keeps_money_exact_and_refuses_non_numbers() -> None:
    """Numbers become Decimals (no float rounding); NaN, bad UTF-8 and broken JSON raise."""
    parsed = parse_json(b'{"amount": 0.1, "price": 359.70}')
    assert parsed == {"amount": Decimal("0.1"), "price": Decimal("359.70")}
    for body in (b'{"amount": NaN}', b"\xff\xfe", b"{", b"", b'{"a": Infinity}'):
        with pytest.raises(MalformedBody):
            parse_json(body)


def test_amount_with_three_decimals_is_refused() -> None:
    """Money has at most two decimal places."""
    raw = example("purchase")
    raw["payload"]["amount"] = Decimal("1.005")
    assert ("body", "payload", "amount") in errors(raw)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_arbitrary_json_never_crashes_validation(raw: Any) -> None:
    """Whatever JSON a client sends, validation answers with a result, never an exception."""
    result = check(raw)
    assert isinstance(result, ValidEvent | list)


@settings(max_examples=200, deadline=None)
@given(
    field=st.sampled_from(["type", "channel", "occurred_at", "customer", "payload", "event_id"]),
    value=JSON,
)
def test_corrupting_one_field_never_crashes_and_names_a_path(field: str, value: Any) -> None:
    """A valid event with one field replaced either still passes or reports a path."""
    raw = example("purchase")
    raw[field] = value
    result = check(raw)
    if isinstance(result, list):
        assert result
        assert all(error.path[0] == "body" for error in result)


@settings(max_examples=100, deadline=None)
@given(
    number=st.integers(min_value=0, max_value=10**8 - 1),
    prefix=st.sampled_from(["138", "139", "150", "186"]),
    style=st.sampled_from(["{p}{n}", "+86 {p} {n}", "0086{p}{n}", "({p}) {n}", "+86-{p}-{n}"]),
)
def test_phone_spellings_share_one_digest(number: int, prefix: str, style: str) -> None:
    """Any common spelling of a Chinese mobile number keys like its E.164 form."""
    raw = example("call")
    raw["customer"] = {"phone": style.format(p=prefix, n=f"{number:08d}")}
    canonical = example("call")
    canonical["customer"] = {"phone": f"+86{prefix}{number:08d}"}
    assert valid(raw).customer.identifiers == valid(canonical).customer.identifiers


def test_loyalty_and_anonymous_ids_are_trimmed_not_changed() -> None:
    """Opaque identifiers are keyed as given, apart from surrounding spaces."""
    raw = example("page_view")
    raw["customer"] = {"anonymous_id": "  web-AbC  ", "loyalty_id": "L-1"}
    values = {i.kind: i.value for i in valid(raw).customer.identifiers}
    assert values == {"anonymous_id": "web-AbC", "loyalty_id": "L-1"}


def test_customer_id_is_not_hashed_as_an_identifier() -> None:
    """customer_id names the customer directly; it is not personal data to key or seal."""
    raw = example("call")
    raw["customer"] = {"customer_id": str(uuid.uuid4())}
    event = valid(raw)
    assert event.customer.customer_id == raw["customer"]["customer_id"]
    assert event.customer.identifiers == ()

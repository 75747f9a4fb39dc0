"""The wire contract: committed schemas match the models, records validate against them, and
the compatibility check tells a breaking change from a compatible one."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from tests.unit.profile.factories import purchase_payload, wire_event
from touchpoint_common.events.codec import build_headers, encode_event, encode_key
from touchpoint_devtools.contracts.__main__ import CONTRACTS_DIR, check_files, write_files
from touchpoint_devtools.contracts.compat import breaking_changes


def committed(path: str) -> Any:
    """A committed contract file, parsed."""
    return json.loads((CONTRACTS_DIR / path).read_text())


def test_committed_contracts_have_no_breaking_change() -> None:
    """The committed files are what `make schemas` writes, or differ only compatibly."""
    breaking, _ = check_files(CONTRACTS_DIR)
    assert breaking == []


def test_an_interactions_record_validates_against_the_committed_schemas() -> None:
    """Key, headers and value of a real encoded purchase satisfy the published schemas."""
    event = wire_event("purchase", purchase_payload("59.90"), store_id="SH-023")
    value = orjson.loads(encode_event(event))
    headers = {name: raw.decode() for name, raw in build_headers(event)}
    for part, instance in (
        ("key", encode_key(event).decode()),
        ("headers", headers),
        ("value", value),
    ):
        Draft202012Validator(committed(f"schemas/interactions/{part}.json")).validate(instance)


def test_the_value_schema_ties_each_payload_to_its_type() -> None:
    """A purchase whose payload lacks its required fields is refused by the value schema."""
    event = wire_event("purchase", purchase_payload())
    value = orjson.loads(encode_event(event))
    value["payload"] = {"note": "no order, no amount"}
    validator = Draft202012Validator(committed("schemas/interactions/value.json"))
    assert not validator.is_valid(value)


class Colour(StrEnum):
    """Version 1 of an enum."""

    RED = "red"
    BLUE = "blue"


class Colour2(StrEnum):
    """Version 2: one more value."""

    RED = "red"
    BLUE = "blue"
    GREEN = "green"


class Narrowed(StrEnum):
    """Version 2: one value fewer."""

    RED = "red"


class Line(BaseModel):
    """A nested model."""

    sku: str
    quantity: int


class RecordV1(BaseModel):
    """The committed shape."""

    id: str
    amount: int
    colour: Colour
    note: str | None = None
    lines: list[Line] = []


class WithOptional(RecordV1):
    """Compatible: a new optional field."""

    channel: str | None = None


class WithNewEnumValue(BaseModel):
    """Compatible: the enum gains a value."""

    id: str
    amount: int
    colour: Colour2
    note: str | None = None
    lines: list[Line] = []


class WithoutNote(BaseModel):
    """Breaking: a field removed."""

    id: str
    amount: int
    colour: Colour
    lines: list[Line] = []


class Retyped(BaseModel):
    """Breaking: amount becomes a string."""

    id: str
    amount: str
    colour: Colour
    note: str | None = None
    lines: list[Line] = []


class WithRequired(RecordV1):
    """Breaking: a new required field."""

    channel: str


class NarrowedEnum(BaseModel):
    """Breaking: the enum loses a value."""

    id: str
    amount: int
    colour: Narrowed
    note: str | None = None
    lines: list[Line] = []


class LineRetyped(BaseModel):
    """A nested field retyped."""

    sku: str
    quantity: float | str


class NestedRetyped(BaseModel):
    """Breaking: a field inside the list items retyped."""

    id: str
    amount: int
    colour: Colour
    note: str | None = None
    lines: list[LineRetyped] = []


def schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's schema as `make schemas` would write it."""
    return model.model_json_schema(mode="serialization")


@pytest.mark.parametrize("model", [RecordV1, WithOptional, WithNewEnumValue])
def test_compatible_changes_pass(model: type[BaseModel]) -> None:
    """No change, a new optional field and a new enum value break no consumer."""
    assert breaking_changes(schema(RecordV1), schema(model)) == []


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (WithoutNote, "$.note: removed"),
        (Retyped, "$.amount: retyped"),
        (WithRequired, "$.channel: new required field"),
        (NarrowedEnum, "$.colour: enum narrowed, ['blue']"),
        (NestedRetyped, "$.lines[].quantity: retyped"),
    ],
)
def test_breaking_changes_are_caught_and_named(model: type[BaseModel], expected: str) -> None:
    """Removed, retyped (also nested), newly required fields and narrowed enums are caught,
    each with the path at fault."""
    changes = breaking_changes(schema(RecordV1), schema(model))
    assert any(change.startswith(expected) for change in changes), changes


def test_the_check_fails_on_a_committed_schema_the_models_would_break(tmp_path: Path) -> None:
    """A committed value schema with a field the model no longer has: `check` reports it as
    breaking; a committed schema lacking an optional field is only stale (compatible)."""
    write_files(tmp_path)
    value_path = tmp_path / "schemas/interactions/value.json"
    value = json.loads(value_path.read_text())
    value["properties"]["loyalty_tier"] = {"type": "string"}
    value_path.write_text(json.dumps(value))
    breaking, _ = check_files(tmp_path)
    assert breaking == [
        "schemas/interactions/value.json $.loyalty_tier: removed "
        "(a consumer of the old schema may read it)"
    ]

    write_files(tmp_path)
    del value["properties"]["loyalty_tier"]
    del value["properties"]["agent_id"]
    value_path.write_text(json.dumps(value))
    breaking, stale = check_files(tmp_path)
    assert breaking == []
    assert stale == ["schemas/interactions/value.json"]

"""Declarative conditions over view fields, used by segments and offer eligibility."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from touchpoint_recommend.domain.snapshot import CustomerSnapshot

Operator = Literal["eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in"]
Scalar = str | int | float | bool
FieldKind = Literal["number", "text", "flag"]
FieldValue = Scalar | None


class DecisionContext(BaseModel):
    """The customer plus where they are: what a rule can look at."""

    model_config = ConfigDict(frozen=True)

    customer: CustomerSnapshot
    channel: str


def _rfm(name: str) -> Callable[[DecisionContext], FieldValue]:
    return lambda context: getattr(context.customer.rfm, name)


FIELDS: dict[str, tuple[FieldKind, Callable[[DecisionContext], FieldValue]]] = {
    "known": ("flag", lambda c: c.customer.known),
    "member": ("flag", lambda c: c.customer.member),
    "member_tier": ("text", lambda c: c.customer.member_tier),
    "tier": ("text", lambda c: c.customer.tier),
    "lifecycle": ("text", lambda c: c.customer.lifecycle),
    "preferred_channel": ("text", lambda c: c.customer.preferred_channel),
    "channel": ("text", lambda c: c.channel),
    "top_interest": ("text", lambda c: c.customer.top_interest()),
    "open_complaints": ("number", lambda c: len(c.customer.open_complaints)),
    "csat": ("number", lambda c: c.customer.csat),
    "nps": ("number", lambda c: c.customer.nps),
    "rfm.r": ("number", _rfm("r")),
    "rfm.f": ("number", _rfm("f")),
    "rfm.m": ("number", _rfm("m")),
    "rfm.recency_days": ("number", _rfm("recency_days")),
    "rfm.frequency": ("number", _rfm("frequency")),
    "rfm.monetary": ("number", _rfm("monetary")),
}
INTEREST_FIELD = re.compile(r"^interest\.([A-Za-z0-9_\-]+)$")
RECENT_PURCHASES_FIELD = re.compile(r"^recent_purchases\.([A-Za-z0-9_\-]+)$")
ORDER_OPERATORS = {"lt", "lte", "gt", "gte"}


def field_kind(field: str) -> FieldKind | None:
    """The type of a rule field, or None when the field does not exist."""
    if field in FIELDS:
        return FIELDS[field][0]
    if INTEREST_FIELD.match(field) or RECENT_PURCHASES_FIELD.match(field):
        return "number"
    return None


def known_fields() -> list[str]:
    """Every field a rule may name (patterns shown with <category>)."""
    return [*FIELDS, "interest.<category>", "recent_purchases.<category>"]


def read_field(field: str, context: DecisionContext) -> FieldValue:
    """The value of a field for this customer and channel (None when missing)."""
    if field in FIELDS:
        return FIELDS[field][1](context)
    if match := INTEREST_FIELD.match(field):
        return context.customer.interest_score(match.group(1))
    if match := RECENT_PURCHASES_FIELD.match(field):
        return context.customer.recent_purchases.get(match.group(1), 0)
    raise KeyError(field)


def _value_fits(kind: FieldKind, value: Scalar) -> bool:
    if kind == "flag":
        return isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, str)


class Rule(BaseModel):
    """`field op value`: e.g. {field: lifecycle, op: in, value: [at_risk, lost]}."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str
    op: Operator = "eq"
    value: Scalar | list[Scalar]

    @model_validator(mode="after")
    def _check(self) -> Rule:
        kind = field_kind(self.field)
        if kind is None:
            raise ValueError(
                f"unknown rule field {self.field!r}; known fields: {', '.join(known_fields())}"
            )
        if self.op in ("in", "not_in"):
            if not isinstance(self.value, list) or not self.value:
                raise ValueError(f"rule on {self.field!r}: op {self.op!r} needs a non-empty list")
            values = self.value
        else:
            if isinstance(self.value, list):
                raise ValueError(f"rule on {self.field!r}: op {self.op!r} needs a single value")
            values = [self.value]
        if self.op in ORDER_OPERATORS and kind != "number":
            raise ValueError(f"rule on {self.field!r}: op {self.op!r} needs a numeric field")
        for value in values:
            if not _value_fits(kind, value):
                raise ValueError(
                    f"rule on {self.field!r}: value {value!r} is not a {kind} "
                    f"({type(value).__name__})"
                )
        return self

    def holds(self, context: DecisionContext) -> bool:
        """Whether the rule is true; a missing value makes every rule but ne/not_in false."""
        actual = read_field(self.field, context)
        if actual is None:
            return self.op in ("ne", "not_in")
        return _compare(self.op, actual, self.value)


def _compare(op: Operator, actual: Scalar, expected: Scalar | list[Scalar]) -> bool:
    if op == "in":
        return isinstance(expected, list) and actual in expected
    if op == "not_in":
        return isinstance(expected, list) and actual not in expected
    if op == "eq":
        return actual == expected
    if op == "ne":
        return actual != expected
    if isinstance(actual, bool | str) or isinstance(expected, bool | str | list):
        return False
    if op == "lt":
        return actual < expected
    if op == "lte":
        return actual <= expected
    if op == "gt":
        return actual > expected
    return actual >= expected


def all_hold(rules: tuple[Rule, ...] | list[Rule], context: DecisionContext) -> bool:
    """True when every rule holds (an empty list always holds)."""
    return all(rule.holds(context) for rule in rules)

"""Body bounds before parsing (depth, value count) and the values ingest refuses to store."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from touchpoint_ingest.events.bounds import measure, unstorable

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='ab[]{},"\\ \n'),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(alphabet='k[]{"\\', max_size=3), children, max_size=4)
    ),
    max_leaves=30,
)


def depth_of(value: Any) -> int:
    """How deep containers nest in a parsed value (a scalar: 0)."""
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    return 0


def values_in(value: Any) -> int:
    """How many JSON values a parsed value holds, itself included."""
    if isinstance(value, list):
        return 1 + sum(map(values_in, value))
    if isinstance(value, dict):
        return 1 + sum(map(values_in, value.values()))
    return 1


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_measure_sees_the_depth_json_builds_and_never_fewer_values(value: Any) -> None:
    """Brackets and commas inside strings do not count; the value count is an upper bound."""
    body = json.dumps(value).encode()
    shape = measure(body)
    assert shape.depth == depth_of(value)
    assert shape.values >= values_in(value)


def test_measure_is_linear_on_hostile_bodies() -> None:
    """A million brackets or unterminated escaped quotes are measured without parsing."""
    assert measure(b"[" * 1_000_000).depth == 1_000_000
    assert measure(b'"\\"' * 300_000).depth == 0
    flood = b'{"events":[' + b"{}," * 300_000 + b"{}]}"
    assert measure(flood).values > 300_000


def test_nul_surrogates_and_controls_are_named_where_they_are() -> None:
    """Every unstorable string, key or number is reported at its own path."""
    body = {
        "store_id": "S\x001",
        "agent_id": "a\tb",
        "payload": {"text": "line\nbreak\ttab", "reason": "bell\x07", "x\x00": 1},
        "customer": {"loyalty_id": "\ud800"},
        "n": [2**70, -(2**63), 2**63 - 1, Decimal("1e400"), Decimal("1e-400"), True],
    }
    found = {(v.path, v.code) for v in unstorable(body)}
    assert found == {
        (("body", "store_id"), "nul_character"),
        (("body", "agent_id"), "control_character"),
        (("body", "payload", "reason"), "control_character"),
        (("body", "payload"), "nul_character"),
        (("body", "customer", "loyalty_id"), "invalid_unicode"),
        (("body", "n", 0), "int_range"),
        (("body", "n", 3), "num_range"),
    }


def test_free_text_may_hold_tabs_and_line_breaks_only() -> None:
    """Complaint text keeps its line breaks; an escape character is still refused."""
    assert unstorable({"text": "a\r\nb\tc"}) == []
    assert [v.code for v in unstorable({"text": "a\x1bb"})] == ["control_character"]

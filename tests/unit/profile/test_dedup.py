"""Unit tests of the compact dedup sets (fold/dedup.py) and the state split for storage."""

from __future__ import annotations

import json
import uuid

from hypothesis import given
from hypothesis import strategies as st

from tests.unit.profile.factories import CUSTOMER, NOW, purchase
from touchpoint_profile.fold.dedup import event_key, pack_keys, unpack_keys
from touchpoint_profile.fold.fold import fold_many
from touchpoint_profile.fold.state import (
    CustomerState,
    dump_state_parts,
    load_state_parts,
    new_state,
)

keys = st.dictionaries(st.integers(0, 2**64 - 1), st.integers(0, 60_000), max_size=200)


@given(keys)
def test_packed_keys_read_back_the_same(mapping: dict[int, int]) -> None:
    """pack_keys then unpack_keys gives back every key with its day."""
    assert unpack_keys(pack_keys(mapping)) == mapping


def test_packed_keys_cost_eight_bytes_an_event_and_eight_a_day() -> None:
    """5,000 ids over 90 days pack into ~40 KB of bytes, against ~45 bytes an id as JSON."""
    mapping = {event_key(str(uuid.uuid4())): 20_000 + n % 90 for n in range(5000)}
    raw_bytes = len(pack_keys(mapping)) * 3 / 4
    assert raw_bytes <= 4 + 8 * 90 + 8 * 5000 + 3


def test_a_state_stored_before_the_hashes_reads_its_event_ids_as_keys() -> None:
    """A legacy state whose applied set holds event ids still knows those events: a re-post is
    a duplicate after the upgrade."""
    again = purchase("10.00", days_ago=2)
    legacy = json.loads(new_state(CUSTOMER).model_dump_json())
    legacy["applied"] = {again.event_id: 20_000}
    state = CustomerState.model_validate_json(json.dumps(legacy))
    assert state.applied == {event_key(again.event_id): 20_000}
    assert event_key(again.event_id) == again.dedup_key


def test_the_state_splits_into_a_body_without_dedup_and_joins_back() -> None:
    """dump_state_parts keeps the dedup sets out of the body the view reads; load_state_parts
    gives back the same state, so a redelivery after storage is still a duplicate."""
    events = [purchase("10.00", days_ago=day) for day in range(1, 30)]
    state = fold_many(new_state(CUSTOMER), events, NOW)
    body, dedup = dump_state_parts(state)
    assert "applied" not in json.loads(body)
    assert "money_ids" not in json.loads(body)["value"]
    back = load_state_parts(body, dedup)
    assert back == state
    assert fold_many(back, events, NOW) == back
    assert load_state_parts(body, None).applied == {}

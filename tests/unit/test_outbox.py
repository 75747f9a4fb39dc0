"""Unit tests of the outbox relay's pure parts: which rows count as sent, header round trip."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from touchpoint_common.kafka.outbox import (
    HEADER_SEPARATOR,
    OwedRecord,
    acknowledged_prefix,
    split_headers,
)
from touchpoint_common.kafka.publisher import OutgoingRecord


def owed(count: int) -> list[OwedRecord]:
    """`count` owed rows with ids 1..count."""
    return [
        OwedRecord(outbox_id=n, record=OutgoingRecord(topic="t", value=b"v"), source="s/e")
        for n in range(1, count + 1)
    ]


@given(st.lists(st.booleans(), max_size=20))
def test_only_the_acknowledged_prefix_is_marked(acked: list[bool]) -> None:
    """Rows up to the first unacknowledged one are marked sent, none after it: the rest are
    sent again after it, so per-key order on the topic never goes backwards."""
    done = acknowledged_prefix(owed(len(acked)), acked)
    first_gap = acked.index(False) if False in acked else len(acked)
    assert [item.outbox_id for item in done] == list(range(1, first_gap + 1))


names = st.text(min_size=1, max_size=10).filter(lambda name: HEADER_SEPARATOR not in name)


@given(st.lists(st.tuples(names, st.binary(max_size=20)), max_size=5))
def test_headers_come_back_as_written(headers: list[tuple[str, bytes]]) -> None:
    """The flattened header columns give back the record's headers, in order."""
    flat_names = HEADER_SEPARATOR.join(name for name, _ in headers)
    flat_values = HEADER_SEPARATOR.join(value.hex() for _, value in headers)
    assert split_headers(flat_names, flat_values) == tuple(headers)

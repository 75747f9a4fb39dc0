"""Events at the edges (calendar, integer ranges) are refused by name, never raise."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from touchpoint_ingest.events.examples import EVENT_EXAMPLES
from touchpoint_ingest.events.validation import Rules, ValidEvent, validate_event

RULES = Rules(hmac_key=b"k" * 32, default_region="CN", max_future_skew=timedelta(minutes=5))
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def example(kind: str, **fields: Any) -> dict[str, Any]:
    """A copy of the example event of `kind` with some fields replaced."""
    event = copy.deepcopy(EVENT_EXAMPLES[kind])
    event.update(fields)
    return event


@pytest.mark.parametrize(
    "occurred_at",
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "1969-12-31T23:59:59Z"],
)
def test_calendar_edges_are_422_at_occurred_at(occurred_at: str) -> None:
    """Instants UTC cannot hold, and those before the epoch, are violations at occurred_at."""
    result = validate_event(example("call", occurred_at=occurred_at), now=NOW, rules=RULES)
    assert isinstance(result, list)
    assert [v.path for v in result] == [("body", "occurred_at")]


@pytest.mark.parametrize("rank", [2**31, 2**70])
def test_rank_must_fit_a_postgres_integer(rank: int) -> None:
    """A rank the recommend store's int4 column cannot hold is refused at its path."""
    event = example("offer_presented")
    event["payload"]["offers"][0]["rank"] = rank
    result = validate_event(event, now=NOW, rules=RULES)
    assert isinstance(result, list)
    assert [v.path for v in result] == [("body", "payload", "offers", 0, "rank")]


def test_largest_rank_is_accepted() -> None:
    """2**31 - 1 is still a valid rank."""
    event = example("offer_presented")
    event["payload"]["offers"][0]["rank"] = 2**31 - 1
    assert isinstance(validate_event(event, now=NOW, rules=RULES), ValidEvent)

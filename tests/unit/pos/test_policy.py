"""The POS client's pure parts: batching, backoff honouring Retry-After, reading answers."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from touchpoint_pos.answers import Fate, classify, parse_retry_after
from touchpoint_pos.backoff import Backoff, retry_delay
from touchpoint_pos.batching import ENVELOPE_BYTES, batch_body, batch_length
from touchpoint_pos.outbox import prepare_event

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
IDS = [str(uuid.uuid4()) for _ in range(3)]


@given(
    sizes=st.lists(st.integers(1, 5000), max_size=60),
    max_events=st.integers(1, 50),
    max_bytes=st.integers(100, 20000),
)
def test_a_batch_is_the_longest_prefix_that_fits(
    sizes: list[int], max_events: int, max_bytes: int
) -> None:
    """Oldest first, within both limits, never empty, and one more event would not fit."""
    length = batch_length(sizes, max_events=max_events, max_bytes=max_bytes)
    if not sizes:
        assert length == 0
        return
    assert 1 <= length <= min(max_events, len(sizes))
    body = len(batch_body([b"x" * size for size in sizes[:length]]))
    assert length == 1 or body <= max_bytes
    if length < min(max_events, len(sizes)):
        longer = len(batch_body([b"x" * size for size in sizes[: length + 1]]))
        assert longer > max_bytes


def test_the_batch_body_is_the_events_verbatim() -> None:
    """The recorded bytes are sent as they are, inside the batch envelope."""
    body = batch_body([b'{"a":1}', b'{"b":2}'])
    assert json.loads(body) == {"events": [{"a": 1}, {"b": 2}]}
    assert len(batch_body([])) == ENVELOPE_BYTES


@given(attempt=st.integers(1, 80), retry_after=st.none() | st.floats(0, 5000), seed=st.integers())
def test_backoff_is_bounded_jittered_and_never_before_retry_after(
    attempt: int, retry_after: float | None, seed: int
) -> None:
    """The wait grows with attempts up to max_s, and is at least Retry-After (capped)."""
    policy = Backoff(initial_s=0.5, max_s=60.0, max_retry_after_s=900.0)
    delay = retry_delay(attempt, retry_after, policy, random.Random(seed))
    ceiling = min(policy.max_s, policy.initial_s * 2 ** (attempt - 1))
    assert delay >= ceiling / 2
    if retry_after is None:
        assert delay <= ceiling
    else:
        asked = min(retry_after, policy.max_retry_after_s)
        assert asked <= delay <= max(ceiling, asked * 1.1)


def test_backoff_doubles_until_the_cap() -> None:
    """Equal jitter: attempt n waits between half and all of 0.5 * 2**(n-1), capped at 60 s."""
    rng = random.Random(1)
    waits = [retry_delay(n, None, Backoff(), rng) for n in range(1, 12)]
    assert 0.25 <= waits[0] <= 0.5
    assert 4 <= waits[4] <= 8
    assert all(30 <= wait <= 60 for wait in waits[8:])


def test_retry_after_in_seconds_or_as_a_date() -> None:
    """Both RFC 9110 forms; junk or absence is None."""
    assert parse_retry_after("7") == 7.0
    later = (NOW + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(later, NOW) == pytest.approx(30)
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def result(index: int, status: str, **extra: object) -> dict[str, object]:
    """One per-event result as ingest writes it."""
    return {"index": index, "event_id": IDS[index], "status": status, "errors": [], **extra}


def answer(*results: dict[str, object]) -> bytes:
    """A batch answer body."""
    return json.dumps(
        {"accepted": 0, "duplicates": 0, "rejected": 0, "unavailable": 0, "results": list(results)}
    ).encode()


def test_a_200_settles_accepted_and_duplicates_rejects_refusals_retries_the_rest() -> None:
    """Per-event results decide each event; rejections carry the server's errors."""
    errors = [{"loc": ["body", "events", 2, "payload", "amount"], "msg": "bad", "type": "x"}]
    verdict = classify(
        IDS,
        status=200,
        body=answer(
            result(0, "accepted"), result(1, "duplicate"), result(2, "rejected", errors=errors)
        ),
    )
    assert [verdict.events[i].fate for i in IDS] == [Fate.SENT, Fate.SENT, Fate.REJECTED]
    assert verdict.events[IDS[1]].answer == "duplicate"
    assert "amount" in str(verdict.events[IDS[2]].reason)
    assert not verdict.retries()
    assert verdict.retry_after is None


def test_a_503_settles_nothing_and_honours_retry_after() -> None:
    """Only a 2xx marks events sent: accepted items of a 503 are resent (answered duplicate)."""
    verdict = classify(
        IDS,
        status=503,
        headers={"Retry-After": "4"},
        body=answer(result(0, "accepted"), result(1, "unavailable"), result(2, "rejected")),
    )
    assert [verdict.events[i].fate for i in IDS] == [Fate.RETRY, Fate.RETRY, Fate.REJECTED]
    assert verdict.retry_after == 4.0


def test_a_result_naming_another_event_settles_nothing() -> None:
    """An answer whose event_id does not match the one sent at that index is not trusted."""
    wrong = {"index": 0, "event_id": str(uuid.uuid4()), "status": "accepted"}
    verdict = classify(IDS[:1], status=200, body=answer(wrong))
    assert verdict.events[IDS[0]].fate is Fate.RETRY


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [
        (429, {"retry-after": "3"}, 3.0),
        (503, {"Retry-After": "5"}, 5.0),
        (502, {}, None),
        (500, {}, None),
    ],
)
def test_overload_and_outages_retry_everything(
    status: int, headers: dict[str, str], retry_after: float | None
) -> None:
    """429 and 5xx without per-event results: every event again, after Retry-After if given."""
    verdict = classify(IDS, status=status, headers=headers, body=b'{"detail": "overloaded"}')
    assert verdict.retries() == IDS
    assert verdict.retry_after == retry_after
    assert classify(IDS, status=None, error="ConnectError").retries() == IDS


def test_a_whole_request_refusal_splits_a_batch_and_rejects_a_lone_event() -> None:
    """413/422 on the request: halve the batch to find the culprit; alone, it is rejected."""
    assert classify(IDS, status=413, body=b'{"detail": "too big"}').split
    lone = classify(IDS[:1], status=413, body=b'{"detail": "too big"}')
    assert lone.events[IDS[0]].fate is Fate.REJECTED
    assert lone.events[IDS[0]].reason == "too big"


def test_403_rejects_the_event_named_and_stalls_on_a_key_without_scope() -> None:
    """A till key posting for another store: that event is rejected, the others retried;
    a key lacking events:write: everything kept and the flush stalls."""
    named = classify(
        IDS,
        status=403,
        body=b'{"detail": "event 1: this key may only post events of its own stores"}',
    )
    assert [named.events[i].fate for i in IDS] == [Fate.RETRY, Fate.REJECTED, Fate.RETRY]
    assert named.stalled is None
    assert named.resend_now
    key = classify(IDS[:1], status=403, body=b'{"detail": "missing scope events:write"}')
    assert key.stalled is not None
    assert key.events[IDS[0]].fate is Fate.RETRY
    assert classify(IDS, status=401, body=b"{}").stalled is not None
    assert classify(IDS, status=404, body=b"{}").stalled is not None


def test_record_time_fixes_id_time_and_exact_amounts() -> None:
    """A uuid4 event_id and occurred_at are assigned once; decimals stay exact strings."""
    event_id, kind, body = prepare_event(
        {"type": "purchase", "payload": {"amount": Decimal("359.70")}}, NOW
    )
    parsed = json.loads(body)
    assert uuid.UUID(event_id).version == 4
    assert parsed["event_id"] == event_id
    assert parsed["occurred_at"] == NOW.isoformat()
    assert parsed["payload"]["amount"] == "359.70"
    assert kind == "purchase"
    given_id = str(uuid.uuid4())
    assert prepare_event({"type": "call", "event_id": given_id}, NOW)[0] == given_id
    with pytest.raises(ValueError, match="type"):
        prepare_event({"payload": {}}, NOW)

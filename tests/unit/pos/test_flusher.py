"""The flusher against a scripted ingest (httpx.MockTransport): order, retries, refusals, crashes.

The outbox is a real SQLite file; only ingest's answers are scripted here (the real ingest is
in tests/integration/pos).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from touchpoint_pos import Backoff, Limits, Outbox, PosClient
from touchpoint_pos.client import FlusherBusy, _flush_lock

Answer = Callable[[list[dict[str, Any]]], httpx.Response]


class FakeIngest:
    """Remembers every batch it was sent; answers with `script` (default: all accepted)."""

    def __init__(self, *script: Answer) -> None:
        self.script = list(script)
        self.batches: list[list[dict[str, Any]]] = []
        self.seen: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/events/batch"
        assert request.headers["authorization"] == "Bearer tp_test"
        events = json.loads(request.content)["events"]
        self.batches.append(events)
        if self.script:
            return self.script.pop(0)(events)
        return self.accept(events)

    def accept(self, events: list[dict[str, Any]]) -> httpx.Response:
        """200 with accepted (or duplicate, for ids seen before) for every event."""
        results = []
        for index, event in enumerate(events):
            status = "duplicate" if event["event_id"] in self.seen else "accepted"
            self.seen.add(event["event_id"])
            results.append({"index": index, "event_id": event["event_id"], "status": status})
        return httpx.Response(200, json={"results": results})


def sale(number: int) -> dict[str, Any]:
    """A till's purchase (event_id and occurred_at left to the client)."""
    return {
        "type": "purchase",
        "channel": "pos",
        "store_id": "SH-023",
        "customer": {"loyalty_id": f"L-{number}"},
        "payload": {"order_id": f"O-{number}", "amount": "10.00", "currency": "CNY", "items": []},
    }


def make_client(
    tmp_path: Path, ingest: FakeIngest, *, batch: int = 3
) -> tuple[PosClient, list[float]]:
    """A client on a fresh outbox whose backoff sleeps are recorded, not slept."""
    client = PosClient(
        tmp_path / "till.sqlite3",
        url="http://ingest",
        api_key="tp_test",
        limits=Limits(max_events=batch),
        backoff=Backoff(initial_s=0.01, max_s=0.05),
        transport=httpx.MockTransport(ingest),
    )
    slept: list[float] = []
    client._sleep = slept.append  # type: ignore[method-assign,assignment]
    return client, slept


def test_events_go_oldest_first_in_batches_and_are_marked_sent(tmp_path: Path) -> None:
    """Seven sales, batches of three: three requests in recording order, all marked sent."""
    ingest = FakeIngest()
    client, _ = make_client(tmp_path, ingest)
    ids = [client.record(sale(n)) for n in range(7)]
    report = client.flush()
    assert [len(batch) for batch in ingest.batches] == [3, 3, 1]
    assert [event["event_id"] for batch in ingest.batches for event in batch] == ids
    assert (report.sent, report.pending, report.requests) == (7, 0, 3)
    assert client.outbox.counts().sent == 7


def test_retry_after_is_honoured_and_the_same_events_are_resent(tmp_path: Path) -> None:
    """A 429 then a 503 with Retry-After: the waits are at least what the server asked, and
    the same event_ids (same bytes) go again."""
    ingest = FakeIngest(
        lambda _: httpx.Response(429, headers={"Retry-After": "2"}, json={"detail": "slow down"}),
        lambda _: httpx.Response(503, headers={"Retry-After": "3"}, json={"detail": "overloaded"}),
    )
    client, slept = make_client(tmp_path, ingest)
    client.record(sale(1))
    report = client.flush()
    assert 2 <= slept[0] <= 2.2
    assert 3 <= slept[1] <= 3.3
    assert ingest.batches[0] == ingest.batches[1] == ingest.batches[2]
    assert (report.sent, report.failed_attempts) == (1, 2)


def test_an_unreachable_ingest_keeps_everything_and_backs_off(tmp_path: Path) -> None:
    """Connection refused: nothing lost, attempts counted, the flush gives up at its deadline."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client, slept = make_client(tmp_path, FakeIngest())
    client._http = httpx.Client(base_url="http://ingest", transport=httpx.MockTransport(refuse))
    client.record(sale(1))
    client._sleep = lambda seconds: slept.append(seconds)  # type: ignore[method-assign]
    report = client.flush(max_seconds=0.0)
    assert report.pending == 1
    assert report.sent == 0
    [row] = client.outbox.pending()
    assert row.attempts == 1
    assert "ConnectError" in str(row.last_error)


def test_a_refused_event_is_moved_to_rejected_with_the_reason_and_the_rest_flows(
    tmp_path: Path,
) -> None:
    """A per-event 422 is permanent: moved out with the server's errors, never resent."""

    def reject_second(events: list[dict[str, Any]]) -> httpx.Response:
        results = [
            {"index": 0, "event_id": events[0]["event_id"], "status": "accepted"},
            {
                "index": 1,
                "event_id": events[1]["event_id"],
                "status": "rejected",
                "errors": [
                    {
                        "loc": ["body", "events", 1, "customer"],
                        "msg": "no customer",
                        "type": "unknown_customer",
                    }
                ],
            },
        ]
        return httpx.Response(200, json={"results": results})

    ingest = FakeIngest(reject_second)
    client, _ = make_client(tmp_path, ingest, batch=2)
    ids = [client.record(sale(n)) for n in range(3)]
    report = client.flush()
    assert (report.sent, report.rejected, report.pending) == (2, 1, 0)
    [refused] = client.outbox.rejected()
    assert refused.event_id == ids[1]
    assert refused.answer == "422"
    assert "unknown_customer" in str(refused.reason)
    assert sum(event["event_id"] == ids[1] for batch in ingest.batches for event in batch) == 1
    assert client.outbox.requeue(ids[1])
    assert client.outbox.pending()[0].event_id == ids[1]


def test_a_request_level_refusal_is_split_down_to_the_culprit(tmp_path: Path) -> None:
    """413 on a batch of four: halves until the event over the limit is alone, then rejected."""
    client, _ = make_client(tmp_path, FakeIngest(), batch=4)
    ids = [client.record(sale(n)) for n in range(4)]
    culprit = ids[2]

    def ingest_with_limit(request: httpx.Request) -> httpx.Response:
        events = json.loads(request.content)["events"]
        if any(event["event_id"] == culprit for event in events):
            return httpx.Response(413, json={"detail": "the body is over the limit"})
        return FakeIngest().accept(events)

    client._http = httpx.Client(
        base_url="http://ingest", transport=httpx.MockTransport(ingest_with_limit)
    )
    report = client.flush()
    assert (report.sent, report.rejected, report.pending) == (3, 1, 0)
    assert client.outbox.rejected()[0].event_id == culprit


def test_a_refused_key_stalls_the_flush_and_keeps_every_event(tmp_path: Path) -> None:
    """401: nothing is rejected or dropped; the flush stops and says why."""
    ingest = FakeIngest(
        lambda _: httpx.Response(401, json={"detail": "invalid or revoked API key"})
    )
    client, _ = make_client(tmp_path, ingest)
    client.record(sale(1))
    report = client.flush()
    assert report.stalled is not None
    assert "401" in report.stalled
    assert (report.pending, report.rejected) == (1, 0)


def test_a_crash_before_marking_resends_and_ingest_answers_duplicate(tmp_path: Path) -> None:
    """Ingest took the batch but the till died before marking it: the next flush sends the same
    ids again, they come back `duplicate` and are marked sent; nothing is counted twice."""
    ingest = FakeIngest()
    client, _ = make_client(tmp_path, ingest)
    ids = [client.record(sale(n)) for n in range(3)]
    rows = client.outbox.next_batch(max_events=3, max_bytes=10**6)
    client._send(rows)  # the answer is lost with the crashed process: nothing settled
    client.close()
    again, _ = make_client(tmp_path, ingest)
    report = again.flush()
    assert (report.sent, report.duplicates) == (3, 3)
    assert ingest.batches[0] == ingest.batches[1]
    assert ingest.seen == set(ids)


def test_the_same_event_recorded_twice_is_one_row(tmp_path: Path) -> None:
    """Recording is idempotent by event_id; another body under a used id is refused."""
    with Outbox(tmp_path / "o.sqlite3") as box:
        event = {
            **sale(1),
            "event_id": "0b7a4a0e-3f7e-4b8e-9a43-1d2f5c6b7a01",
            "occurred_at": "2026-11-30T01:00:00+00:00",
        }
        assert box.record(event) == box.record(event)
        assert box.counts().pending == 1
        with pytest.raises(ValueError, match="another body"):
            box.record({**event, "store_id": "SH-051"})


def test_one_flusher_per_outbox(tmp_path: Path) -> None:
    """A second flush of the same outbox while one runs is refused, not run alongside."""
    path = tmp_path / "o.sqlite3"
    with _flush_lock(path), pytest.raises(FlusherBusy), _flush_lock(path):
        pass


def test_background_flusher_sends_what_is_recorded(tmp_path: Path) -> None:
    """start(): a record wakes the flusher thread, which outlives an unexpected failure (here
    the first request blows up) and sends the event on its next round."""

    def blow_up(_: list[dict[str, Any]]) -> httpx.Response:
        raise RuntimeError("a bad moment")

    ingest = FakeIngest(blow_up)
    client, _ = make_client(tmp_path, ingest)
    client.start(interval_s=0.05)
    try:
        client.record(sale(1))
        for _ in range(200):
            if client.outbox.counts().sent == 1:
                break
            import time

            time.sleep(0.01)
    finally:
        client.close()
    assert len(ingest.seen) == 1


def test_an_event_the_key_may_not_post_is_rejected_and_the_rest_go_at_once(tmp_path: Path) -> None:
    """403 `event 1: ...` (another store): that event is rejected with the message, the other
    two are resent without waiting and accepted."""
    refusal = "event 1: this key may only post events of its own stores"
    ingest = FakeIngest(lambda _: httpx.Response(403, json={"detail": refusal}))
    client, slept = make_client(tmp_path, ingest)
    ids = [client.record(sale(n)) for n in range(3)]
    report = client.flush()
    assert (report.sent, report.rejected, slept) == (2, 1, [])
    assert [r.reason for r in client.outbox.rejected()] == [refusal]
    assert [e["event_id"] for e in ingest.batches[1]] == [ids[0], ids[2]]

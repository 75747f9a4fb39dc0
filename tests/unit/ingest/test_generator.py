"""The traffic generator's model: valid, varied, seeded, and shaped like real journeys."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from touchpoint_devtools.generator.cli import Tally
from touchpoint_devtools.generator.traffic import TrafficModel
from touchpoint_ingest.events.validation import Rules, ValidEvent, validate_event

RULES = Rules(hmac_key=b"k" * 32, default_region="CN", max_future_skew=timedelta(minutes=5))
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def take(model: TrafficModel, count: int) -> list[dict[str, object]]:
    return [model.next_event(NOW) for _ in range(count)]


def test_every_generated_event_passes_validation() -> None:
    """The generator never sends something the API would refuse."""
    for event in take(TrafficModel(customers=50, seed=1), 2000):
        result = validate_event(event, now=NOW, rules=RULES)
        assert isinstance(result, ValidEvent), (event, result)


def without_ids(events: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{k: v for k, v in event.items() if k != "event_id"} for event in events]


def test_same_seed_same_traffic_other_seed_other_traffic() -> None:
    """Runs are reproducible from their seed; event ids are new each run (no 409 on re-runs)."""
    first = take(TrafficModel(customers=20, seed=7), 300)
    again = take(TrafficModel(customers=20, seed=7), 300)
    assert without_ids(first) == without_ids(again)
    assert {e["event_id"] for e in first}.isdisjoint({e["event_id"] for e in again})
    assert without_ids(first) != without_ids(take(TrafficModel(customers=20, seed=8), 300))


def test_traffic_is_mixed_across_types_and_channels() -> None:
    """Baskets, web sessions with logins, calls, complaints and their resolution, visits, offers."""
    events = take(TrafficModel(customers=100, seed=3), 3000)
    types = Counter(str(event["type"]) for event in events)
    expected = {"purchase", "page_view", "identify", "call", "complaint", "complaint_resolved"}
    assert expected | {"store_visit", "offer_response", "membership", "consent"} <= set(types)
    assert {"complaint_assigned", "complaint_follow_up"} <= set(types)
    assert types["page_view"] > types["identify"] > 0
    channels = {event["channel"] for event in events}
    assert {"pos", "web", "call_centre", "store"} <= channels


def test_identify_follows_the_anonymous_session_it_links() -> None:
    """A login links the session's anonymous id that page views used just before."""
    events = take(TrafficModel(customers=30, seed=5), 2000)
    for index, event in enumerate(events):
        if event["type"] == "identify":
            customer = event["customer"]
            assert isinstance(customer, dict)
            anonymous = customer["anonymous_id"]
            previous = events[index - 1]
            assert previous["type"] == "page_view"
            assert previous["customer"] == {"anonymous_id": anonymous}


def test_resolutions_name_complaints_opened_earlier() -> None:
    """complaint_resolved only refers to complaints the generator opened before."""
    events = take(TrafficModel(customers=30, seed=9), 3000)
    opened: set[str] = set()
    for event in events:
        payload = event["payload"]
        assert isinstance(payload, dict)
        if event["type"] == "complaint":
            opened.add(payload["complaint_id"])
        if event["type"] == "complaint_resolved":
            assert payload["complaint_id"] in opened


def test_calls_carry_notes_and_callbacks_a_commitment_due_after_the_send_time() -> None:
    """Some calls have a note; every callback promises something, due hours after it is sent."""
    calls = [e for e in take(TrafficModel(customers=50, seed=4), 2000) if e["type"] == "call"]
    payloads = [e["payload"] for e in calls]
    assert any(isinstance(p, dict) and "note" in p for p in payloads)
    callbacks = [p for p in payloads if isinstance(p, dict) and p["outcome"] == "callback"]
    assert callbacks
    for payload in callbacks:
        due = datetime.fromisoformat(payload["commitment"]["due_at"])
        assert due - NOW in {timedelta(hours=hours) for hours in (4, 24, 72)}


def test_latency_percentiles_of_the_tally() -> None:
    """The summary's percentiles come from the sorted latencies, in milliseconds."""
    tally = Tally(latencies=[i / 1000 for i in range(1, 101)])
    assert tally.percentile(0.5) == 51.0
    assert tally.percentile(0.99) == 100.0
    assert Tally().percentile(0.5) == 0.0

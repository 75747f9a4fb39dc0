"""The live feed's pure parts (frames, queue bound, fan-out by record key) and the console's
headers, without a broker."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import orjson
from aiokafka import ConsumerRecord

from touchpoint_common.events.codec import encode_key
from touchpoint_common.events.models import InteractionEvent
from touchpoint_common.events.payloads import Channel, EventType
from touchpoint_devtools.devservers.run import console_origins, get_services
from touchpoint_profile.console.views import get_console_headers
from touchpoint_profile.live.models import LiveInteraction
from touchpoint_profile.live.service import LiveFeed, _put_dropping_oldest, format_sse
from touchpoint_profile.settings import ProfileSettings

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _line(number: int) -> LiveInteraction:
    return LiveInteraction(
        event_id=f"e-{number}", type="purchase", channel="pos", store_id="12", occurred_at=NOW
    )


def _record(event: InteractionEvent) -> ConsumerRecord:
    value = orjson.dumps(event.model_dump(mode="json"))
    return ConsumerRecord(
        topic="t", partition=0, offset=0, timestamp=0, timestamp_type=0,
        key=encode_key(event), value=value, checksum=None, serialized_key_size=0,
        serialized_value_size=len(value), headers=(),
    )  # fmt: skip


def _event(customer_id: str) -> InteractionEvent:
    return InteractionEvent(
        event_id=uuid.uuid4(),
        type=EventType.PURCHASE,
        channel=Channel.POS,
        occurred_at=NOW,
        received_at=NOW,
        customer_id=customer_id,
        store_id="12",
        payload={"order_id": "o-1", "amount": "1.00", "currency": "CNY", "items": []},
    )


def test_a_frame_is_one_interaction_event_with_its_id() -> None:
    """format_sse writes `id`, `event: interaction` and the line as JSON, ending a frame."""
    frame = format_sse(_line(1))
    head, data = frame.removesuffix("\n\n").rsplit("\n", 1)
    assert head == "id: e-1\nevent: interaction"
    assert json.loads(data.removeprefix("data: "))["store_id"] == "12"


def test_a_full_queue_drops_its_oldest_line() -> None:
    """A slow reader's queue keeps the newest lines: the oldest makes room."""
    queue: asyncio.Queue[LiveInteraction] = asyncio.Queue(2)
    for number in range(3):
        _put_dropping_oldest(queue, _line(number))
    assert [queue.get_nowait().event_id for _ in range(2)] == ["e-1", "e-2"]


def test_records_reach_only_their_customers_subscribers() -> None:
    """A record keyed by customer A goes to A's two feeds and not to B's; a closed feed
    receives nothing more."""
    feed = LiveFeed(ProfileSettings(), queue_size=10)
    subscriptions = [feed.add_subscriber(customer) for customer in ("A", "A", "B")]
    event = _event("A")
    feed._deliver(_record(event))
    assert [s.queue.qsize() for s in subscriptions] == [1, 1, 0]
    assert subscriptions[0].queue.get_nowait().event_id == str(event.event_id)
    subscriptions[0].close()
    feed._deliver(_record(_event("A")))
    assert [s.queue.qsize() for s in subscriptions] == [0, 2, 0]
    assert feed.count_subscribers() == 2
    subscriptions[0].close()
    assert feed.count_subscribers() == 2, "closing twice forgets once"


def test_console_policy_allows_calls_to_ingest_and_recommend_only() -> None:
    """The console's CSP lets scripts come from the profile only and calls go to the profile,
    ingest and recommend as configured."""
    settings = ProfileSettings(
        console_ingest_url="http://ingest.example", console_recommend_url="http://rec.example"
    )
    policy = get_console_headers(settings)["Content-Security-Policy"]
    assert "connect-src 'self' http://ingest.example http://rec.example;" in policy
    assert "script-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy


def test_make_run_allows_the_profiles_origin_by_ip_and_by_name() -> None:
    """`make run` sets ingest's and recommend's CORS origins to the profile's two origins."""
    origins = json.loads(console_origins(get_services(8001, 8002, 8003)))
    assert origins == ["http://127.0.0.1:8002", "http://localhost:8002"]

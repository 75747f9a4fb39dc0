"""Hypothesis posts arbitrary JSON and extreme events to the real ingest, then the real fold
reads what was accepted: never a 5xx, every refusal names its field, every 202 folds."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer
from asgi_lifespan import LifespanManager
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.ingest.conftest import TopicReader, make_ingest_settings
from tests.integration.keys import all_scopes_headers
from tests.integration.profile.conftest import make_profile_settings
from tests.integration.records import drain
from touchpoint_common.db.engine import create_engine, create_session_factory
from touchpoint_common.kafka.admin import create_topics
from touchpoint_common.kafka.producer import create_producer
from touchpoint_common.settings import CommonSettings
from touchpoint_ingest.events.examples import EVENT_EXAMPLES
from touchpoint_ingest.main import create_app
from touchpoint_ingest.settings import IngestSettings
from touchpoint_profile.consumer.runner import ProfileConsumer
from touchpoint_profile.settings import ProfileSettings

pytestmark = [
    pytest.mark.integration,
    # The service's own retries (jittered backoff) use `random` while hypothesis draws.
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]
FUZZ = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12)), timezone.min]
)
TEXT = st.text(max_size=30) | st.sampled_from(["\x00", "\ud800", "a\nb", "\x1b[0m", "é" * 101])
NUMBERS = (
    st.integers(min_value=-(2**80), max_value=2**80)
    | st.sampled_from([2**31 - 1, 2**31, 2**63 - 1, 2**63, -(2**63) - 1])
    | st.floats(allow_nan=False, allow_infinity=False)
)
ANY_JSON = st.recursive(
    st.none() | st.booleans() | NUMBERS | TEXT,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(TEXT, children, max_size=5),
    max_leaves=25,
)


@st.composite
def extreme_events(draw: st.DrawFn) -> dict[str, Any]:
    """An example event of any type, own customer, with one field pushed to an extreme."""
    kind = draw(st.sampled_from(sorted(EVENT_EXAMPLES)))
    event = copy.deepcopy(EVENT_EXAMPLES[kind])
    event["event_id"] = str(uuid.uuid4())
    event["customer"] = {"loyalty_id": f"F-{uuid.uuid4().hex[:12]}"}
    if kind == "identify":
        event["payload"] = {"link": {"anonymous_id": f"a-{uuid.uuid4().hex[:12]}"}}
    when = draw(
        st.just(datetime.now(UTC))
        | st.datetimes(timezones=ZONES, allow_imaginary=False)
        | st.sampled_from([datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)])
    )
    event["occurred_at"] = when.isoformat()
    target = draw(st.sampled_from(["none", "store_id", "agent_id", "payload", "customer"]))
    value = draw(TEXT | NUMBERS | ANY_JSON)
    if target == "payload":
        payload = event["payload"]
        if payload:
            payload[draw(st.sampled_from(sorted(payload)))] = value
        if kind == "offer_presented":
            payload.setdefault("offers", [{}])
            if (
                isinstance(payload["offers"], list)
                and payload["offers"]
                and isinstance(payload["offers"][0], dict)
            ):
                payload["offers"][0]["rank"] = draw(NUMBERS)
    elif target == "customer":
        event["customer"] = {"loyalty_id": value}
    elif target != "none":
        event[target] = value
    return event


class Poster:
    """Posts from hypothesis' thread through the test's loop, and checks every answer."""

    def __init__(self, client: httpx.AsyncClient, loop: asyncio.AbstractEventLoop) -> None:
        self.client, self.loop = client, loop
        self.accepted: set[str] = set()
        self.statuses: dict[int, int] = {}

    def post(self, path: str, body: bytes) -> httpx.Response:
        """POST a raw JSON body and assert the answer keeps the contract."""
        call = self.client.post(path, content=body, headers={"content-type": "application/json"})
        response = asyncio.run_coroutine_threadsafe(call, self.loop).result(timeout=60)
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        assert response.status_code < 500, response.text[:500]
        answer = response.json()
        if response.status_code == 422:
            assert answer["detail"], answer
            assert all(error["loc"][0] == "body" for error in answer["detail"]), answer
        elif response.status_code == 202:
            self.accepted.add(answer["event_id"])
        elif response.status_code == 200:
            for index, result in enumerate(answer["results"]):
                assert result["index"] == index
                if result["status"] == "accepted":
                    self.accepted.add(result["event_id"])
                elif result["status"] == "rejected":
                    assert all(e["loc"][:3] == ["body", "events", index] for e in result["errors"])
        else:
            assert isinstance(answer["detail"], str), answer
            assert answer["detail"], answer
        return response


@pytest_asyncio.fixture
async def fuzz_settings(settings: CommonSettings) -> tuple[IngestSettings, ProfileSettings]:
    """Ingest and the profile fold on a topic of their own (created), fresh consumer group."""
    profile = make_profile_settings(settings)
    await create_topics(profile)
    ingest = make_ingest_settings(settings, topic_interactions=profile.topic_interactions)
    return ingest, profile


@pytest_asyncio.fixture
async def poster(
    fuzz_settings: tuple[IngestSettings, ProfileSettings],
) -> AsyncIterator[Poster]:
    """The ingest app in-process behind a Poster."""
    app = create_app(fuzz_settings[0])
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://f",
            headers=await all_scopes_headers(fuzz_settings[0]),
        ) as client,
    ):
        yield Poster(client, asyncio.get_running_loop())


def encoded(value: Any) -> bytes:
    """JSON text of any value hypothesis made (lone surrogates escaped, as clients send them)."""
    return json.dumps(value).encode()


async def in_thread(run: Callable[[], None]) -> None:
    """Run a hypothesis test in a thread so its posts can go through this loop."""
    await asyncio.to_thread(run)


async def test_arbitrary_json_and_extreme_events_never_give_5xx_and_what_is_accepted_folds(
    poster: Poster, fuzz_settings: tuple[IngestSettings, ProfileSettings]
) -> None:
    """Any JSON, deep nesting, extreme single events and batches: a 4xx naming the field or
    an accept; then every accepted event is in the topic and folds without a dead letter."""

    @FUZZ
    @given(ANY_JSON)
    def arbitrary(value: Any) -> None:
        poster.post("/v1/events", encoded(value))
        poster.post("/v1/events/batch", encoded({"events": [value]}))

    @FUZZ
    @given(st.integers(min_value=1, max_value=5000), st.sampled_from(["[", '{"a":']))
    def nested(depth: int, opener: str) -> None:
        closer = "]" if opener == "[" else "}"
        poster.post("/v1/events", (opener * depth + "1" + closer * depth).encode())

    @FUZZ
    @given(extreme_events())
    def single(event: dict[str, Any]) -> None:
        poster.post("/v1/events", encoded(event))

    @FUZZ
    @given(st.lists(extreme_events(), min_size=1, max_size=40))
    def batch(events: list[dict[str, Any]]) -> None:
        poster.post("/v1/events/batch", encoded({"events": events}))

    for run in (arbitrary, nested, single, batch):
        await in_thread(run)
    assert poster.accepted, poster.statuses
    print(f"fuzz: answers by status {sorted(poster.statuses.items())}")

    ingest, profile = fuzz_settings
    reader = TopicReader(ingest.kafka_bootstrap, ingest.topic_interactions, ingest.topic_partitions)
    await reader.start()
    try:
        records = await reader.catch_up()
    finally:
        await reader.stop()
    written = {dict(r.headers)["event_id"].decode() for r in records}
    assert poster.accepted <= written, "an event answered 2xx is missing from Kafka"

    engine = create_engine(profile)
    producer = create_producer(profile)
    await producer.start()
    consumer = ProfileConsumer(profile, sessions=create_session_factory(engine), producer=producer)
    await consumer.start()
    try:
        folded = await drain(consumer, timeout_s=60)
    finally:
        await consumer.stop()
        await producer.stop()
        await engine.dispose()
    assert folded == len(records)
    assert await dead_letters(profile) == [], "the fold refused an event ingest accepted"


async def dead_letters(profile: ProfileSettings) -> list[bytes | None]:
    """Everything in the test's dead-letter topic."""
    reader = AIOKafkaConsumer(
        profile.topic_dead_letter,
        bootstrap_servers=profile.kafka_bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await reader.start()
    try:
        batch = await reader.getmany(timeout_ms=2000)
    finally:
        await reader.stop()
    return [record.value for records in batch.values() for record in records]

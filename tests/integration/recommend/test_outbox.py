"""The outbox relay on the real broker and database: owed rows survive the process that wrote
them, go out in order, and are sent once marked."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.integration.recommend.conftest import read_topic
from touchpoint_common.events.models import InteractionEvent
from touchpoint_common.events.payloads import Channel, EventType
from touchpoint_common.kafka.outbox import OutboxRelay, add_to_outbox
from touchpoint_common.kafka.producer import start_producer
from touchpoint_common.kafka.publisher import Publisher, event_record
from touchpoint_recommend.settings import RecommendSettings

pytestmark = pytest.mark.integration


def membership_event(customer_id: str) -> InteractionEvent:
    """A small event for the outbox (its payload does not matter to the relay)."""
    now = datetime.now(UTC)
    return InteractionEvent(
        event_id=uuid.uuid4(),
        type=EventType.MEMBERSHIP,
        channel=Channel.POS,
        occurred_at=now,
        received_at=now,
        customer_id=customer_id,
        payload={"action": "joined", "tier": "silver"},
    )


async def test_rows_owed_before_a_restart_are_sent_in_order_and_marked(
    db: AsyncEngine, recommend_settings: RecommendSettings
) -> None:
    """Rows committed by one session (no relay running: as if the process died after its
    commit) are sent by a relay started afterwards, in the order written and with their event
    ids as headers, and marked sent."""
    sessions = async_sessionmaker(db, class_=AsyncSession, expire_on_commit=False)
    customer_id = f"outbox-{uuid.uuid4().hex[:8]}"
    scope = f"test-{customer_id}"  # the session apps' relays (default scope) leave these alone
    events = [membership_event(customer_id) for _ in range(3)]
    topic = recommend_settings.topic_interactions
    async with sessions() as db_session, db_session.begin():
        await add_to_outbox(
            db_session=db_session,
            records=[event_record(e, topic=topic) for e in events],
            source="recommend/membership",
            scope=scope,
        )
    producer = await start_producer(recommend_settings)
    try:
        relay = OutboxRelay(sessions, Publisher(producer), timeout_s=10, scope=scope)
        assert await relay.relay_once() == 3
    finally:
        await producer.stop()
    wanted = {str(e.event_id) for e in events}
    records = await read_topic(
        recommend_settings.kafka_bootstrap, topic, partitions=recommend_settings.topic_partitions
    )
    seen = [
        dict(r.headers)["event_id"].decode()
        for r in records
        if dict(r.headers).get("event_id", b"").decode() in wanted
    ]
    assert seen == [str(e.event_id) for e in events]
    async with db.connect() as connection:
        owed = await connection.scalar(
            text("SELECT count(*) FROM kafka_outbox WHERE sent_at IS NULL AND dedup_key = ANY(:k)"),
            {"k": sorted(wanted)},
        )
    assert owed == 0

"""Erasure leaves no trace: after an erase nothing in Kafka, PostgreSQL or the logs links back."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.profile.test_api import eventually, random_cn_mobile, serve
from tests.integration.profile.test_through_ingest import serve_ingest
from touchpoint_common.identity import pii
from touchpoint_common.kafka.consumer import create_consumer
from touchpoint_common.settings import CommonSettings
from touchpoint_profile.consumer.runner import get_window_start
from touchpoint_profile.rebuild.service import Rebuilder
from touchpoint_profile.settings import ProfileSettings

pytestmark = pytest.mark.integration


def event(kind: str, who: dict[str, str], payload: dict[str, Any], channel: str) -> dict[str, Any]:
    """An event as a client posts it, half an hour ago."""
    return {
        "event_id": str(uuid.uuid4()),
        "type": kind,
        "channel": channel,
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=30)).isoformat(),
        "customer": who,
        "payload": payload,
    }


async def read_topic(settings: CommonSettings, topic: str) -> bytes:
    """Every record of `topic` (keys, values and headers) as one blob of raw bytes."""
    reader = create_consumer(settings, topic, group_id=None)
    await reader.start()
    blob = bytearray()
    try:
        partitions = [TopicPartition(topic, p) for p in reader.partitions_for_topic(topic) or ()]
        ends = await reader.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        async with asyncio.timeout(30):
            while remaining:
                batches = await reader.getmany(timeout_ms=500)
                for tp, records in batches.items():
                    for record in records:
                        blob += (record.key or b"") + b"\n" + (record.value or b"") + b"\n"
                        for name, value in record.headers:
                            blob += name.encode() + b"=" + value + b"\n"
                        if record.offset + 1 >= ends[tp]:
                            remaining.discard(tp)
    finally:
        await reader.stop()
    return bytes(blob)


async def dump_database(sessions: async_sessionmaker[AsyncSession]) -> str:
    """The text of every row of every table in the public schema."""
    async with sessions() as session:
        tables = (
            await session.scalars(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
        ).all()
        lines: list[str] = []
        for table in tables:
            # Table names come from pg_tables itself, not from any input.
            query = text(f'SELECT CAST(t AS text) FROM "{table}" AS t')  # noqa: S608
            rows = await session.scalars(query)
            lines.extend(f"{table}: {row}" for row in rows)
    return "\n".join(lines)


async def test_after_an_erase_no_topic_table_or_log_links_back_to_the_person(
    profile_settings: ProfileSettings,
    sessions: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Events with a phone and e-mail (and both in free text and a URL query) go in through
    ingest, first as two customers that an identify then merges (so a merge record holds
    what the e-mail's customer owned); after the erase and a rebuild from the topic, neither
    the phone (as written, in E.164, as bare digits), the e-mail, nor their HMAC digests
    appear in the interactions or dead-letter topic, in any table row, or in any captured
    log line."""
    caplog.set_level(logging.DEBUG)
    phone = random_cn_mobile()
    e164 = pii.normalize_phone(phone, default_region="CN")
    email = f"erase.me.{uuid.uuid4().hex[:8]}@example.com"
    who = {"phone": phone}
    posted = [
        event(
            "purchase",
            who,
            {
                "order_id": "E-1",
                "amount": "10.00",
                "currency": "CNY",
                "items": [{"sku": "t1", "category": "tea", "quantity": 1, "unit_price": "10.00"}],
            },
            "pos",
        ),
        event("page_view", {"email": email}, {"url": "/account"}, "web"),
        event("identify", {"phone": phone}, {"link": {"email": email}}, "web"),
        event(
            "call",
            {"phone": phone},
            {"reason": f"call me back on {e164}", "duration_seconds": 60, "outcome": "callback"},
            "call_centre",
        ),
        event(
            "complaint",
            {"email": email},
            {"complaint_id": "K-1", "category": "delivery", "severity": "low", "text": email},
            "call_centre",
        ),
        event(
            "complaint_resolved",
            {"phone": phone},
            {"complaint_id": "K-1", "resolution": f"rang {phone}"},
            "call_centre",
        ),
        event("page_view", {"email": email}, {"url": f"/account?email={email}#{e164}"}, "web"),
    ]
    erase = event("erase", {"phone": phone}, {"reason": f"asked by {email}"}, "web")
    digits = e164.removeprefix("+86")
    async with serve_ingest(profile_settings) as ingest, serve(profile_settings) as profile:
        for body in posted:
            answer = await ingest.post("/v1/events", json=body)
            assert answer.status_code == 202, answer.text
        await eventually(
            lambda: profile.get("/v1/customers/lookup", params={"phone": digits}),
            lambda r: r.status_code == 200 and r.json()["rfm"]["frequency"] == 1,
        )
        answer = await ingest.post("/v1/events", json=erase)
        assert answer.status_code == 202, answer.text
        await eventually(
            lambda: profile.get("/v1/customers/lookup", params={"email": email}),
            lambda r: r.status_code == 404,
        )
    since = get_window_start(profile_settings, datetime.now(UTC))
    await Rebuilder(profile_settings, sessions=sessions).run(since)

    hmac_key = profile_settings.identifier_hmac_key()
    needles = {
        phone,
        e164,
        digits,
        email,
        pii.digest_identifier("phone", e164, key=hmac_key),
        pii.digest_identifier("email", email, key=hmac_key),
    }
    haystacks = {
        "interactions topic": (
            await read_topic(profile_settings, profile_settings.topic_interactions)
        ).decode(errors="replace"),
        "dead-letter topic": (
            await read_topic(profile_settings, profile_settings.topic_dead_letter)
        ).decode(errors="replace"),
        "database": await dump_database(sessions),
        "logs": caplog.text
        + "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records),
    }
    assert "purchase" in haystacks["interactions topic"]
    found = [
        (needle, where) for needle in needles for where, hay in haystacks.items() if needle in hay
    ]
    assert found == []

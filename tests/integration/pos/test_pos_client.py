"""The POS client against the real services: a till that is offline, then crashes mid-flush,
loses no sale and counts none twice.

Ingest runs as a real uvicorn process (on the session's broker and database, the profile's
topic), the profile in-process with its consumer; the flusher is a `python -m touchpoint_pos
flush` process that is SIGKILLed while it sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sqlite3
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import report as show_evidence
from tests.integration.ingest.conftest import TopicReader
from tests.integration.ingest.test_reliability import free_port, settings_env
from tests.integration.keys import TILL_SCOPES, create_token
from tests.integration.profile.test_api import eventually, random_cn_mobile, serve
from touchpoint_devtools.generator.cli import SETTLED, run
from touchpoint_ingest.settings import IngestSettings
from touchpoint_pos import Backoff, Limits, Outbox, PosClient
from touchpoint_profile.settings import ProfileSettings

pytestmark = pytest.mark.integration
STORE = "SH-023"
CUSTOMERS = 12
SALES_EACH = 4


def sale(phone: str, number: int) -> dict[str, Any]:
    """A till's purchase: no event_id, no occurred_at (the client assigns both at record)."""
    amount = Decimal("10.00") + Decimal(number) + Decimal("0.35")
    return {
        "type": "purchase",
        "channel": "pos",
        "store_id": STORE,
        "customer": {"phone": phone},
        "payload": {
            "order_id": f"{STORE}-{uuid.uuid4().hex[:10]}",
            "amount": amount,
            "currency": "CNY",
            "items": [{"sku": "TEA-0192", "category": "tea", "quantity": 1, "unit_price": amount}],
        },
    }


@contextlib.asynccontextmanager
async def ingest_process(settings: ProfileSettings, port: int, log: Path) -> AsyncIterator[str]:
    """A real ingest (uvicorn) on `port` using the profile's topic; its URL once ready."""
    fields = settings.model_dump(include=set(IngestSettings.model_fields))
    fields.update(service_name="ingest", produce_timeout_s=5.0, retry_after_s=1)
    env = settings_env(IngestSettings(**fields))
    url = f"http://127.0.0.1:{port}"
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            *[sys.executable, "-m", "uvicorn", "touchpoint_ingest.main:app"],
            *["--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
            env=env,
            stdout=out,
            stderr=out,
        )
    try:
        async with httpx.AsyncClient(base_url=url) as probe:
            deadline = asyncio.get_running_loop().time() + 90
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await probe.get("/readyz")).status_code == 200:
                        break
                assert process.returncode is None, tail(log)
                assert asyncio.get_running_loop().time() < deadline, "ingest did not start"
                await asyncio.sleep(0.3)
        yield url
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()


async def start_flusher(
    outbox: Path, url: str, token: str, log: Path
) -> asyncio.subprocess.Process:
    """`python -m touchpoint_pos flush` in its own process, two events a request."""
    env = {**os.environ, "TOUCHPOINT_API_KEY": token}
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            *[sys.executable, "-m", "touchpoint_pos", "flush", "--outbox", str(outbox)],
            *["--url", url, "--batch-size", "2", "--max-seconds", "120", "--max-backoff", "1"],
            env=env,
            stdout=out,
            stderr=out,
        )


def tail(log: Path) -> str:
    """The end of the processes' log (for a failing assertion's message)."""
    return log.read_text(errors="replace")[-3000:]


def snapshot(outbox: Path, copy: Path) -> None:
    """The outbox as it is on disk now (SQLite's online backup), into `copy`."""
    with sqlite3.connect(outbox) as source, sqlite3.connect(copy) as target:
        source.backup(target)


async def test_an_offline_till_killed_mid_flush_delivers_every_sale_exactly_once(
    profile_settings: ProfileSettings, tmp_path: Path
) -> None:
    """Sales flow while ingest is up; ingest stops and the sales recorded meanwhile stay in the
    outbox; ingest restarts and a flusher process is SIGKILLed mid-flush and restarted; a
    snapshot of the outbox taken before any of those was marked (a till that died between
    ingest's 2xx and its own commit) is flushed too: ingest answers `duplicate`, the topic holds
    each event once, and each customer's view counts each purchase and amount once."""
    outbox, stale = tmp_path / "till.sqlite3", tmp_path / "till-before-the-crash.sqlite3"
    log = tmp_path / "processes.log"
    token = await create_token(
        profile_settings.database_url, TILL_SCOPES, name="test-pos-till", store_ids=[STORE]
    )
    port = free_port()
    phones = [random_cn_mobile() for _ in range(CUSTOMERS)]
    sales = [sale(phone, n) for n in range(SALES_EACH) for phone in phones]
    early, offline = sales[:CUSTOMERS], sales[CUSTOMERS:]
    expected = {
        phone: sum(s["payload"]["amount"] for s in sales if s["customer"]["phone"] == phone)
        for phone in phones
    }
    till = PosClient(
        outbox,
        url=f"http://127.0.0.1:{port}",
        api_key=token,
        limits=Limits(max_events=5, timeout_s=2),
        backoff=Backoff(initial_s=0.05, max_s=0.2),
    )
    with till:
        async with ingest_process(profile_settings, port, log):
            ids = [till.record(s) for s in early]
            report = await asyncio.to_thread(till.flush, max_seconds=30)
            assert (report.sent, report.pending) == (len(early), 0), report
        ids += [till.record(s) for s in offline]  # ingest is stopped now
        report = await asyncio.to_thread(till.flush, max_seconds=1.0)
    assert (report.sent, report.pending) == (0, len(offline)), report
    assert report.failed_attempts >= 1
    assert "ConnectError" in str(report.last_error)
    snapshot(outbox, stale)

    async with ingest_process(profile_settings, port, log) as url:
        flusher = await start_flusher(outbox, url, token, log)
        watcher = Outbox(outbox)
        deadline = asyncio.get_running_loop().time() + 60
        while (sent := watcher.counts().sent) == len(early):
            assert flusher.returncode is None, tail(log)
            assert asyncio.get_running_loop().time() < deadline, "the flusher sent nothing"
            await asyncio.sleep(0.01)
        flusher.kill()
        await flusher.wait()
        killed_at = watcher.counts()
        assert len(early) < sent <= killed_at.sent < len(sales), "not killed mid-flush"
        assert killed_at.pending == len(sales) - killed_at.sent

        again = await start_flusher(outbox, url, token, log)
        assert await asyncio.wait_for(again.wait(), 120) == 0, tail(log)
        assert (watcher.counts().pending, watcher.counts().rejected) == (0, 0)
        watcher.close()

        replay = await start_flusher(stale, url, token, log)
        assert await asyncio.wait_for(replay.wait(), 120) == 0, tail(log)
        with Outbox(stale) as resent:
            answers = {row.event_id: row.answer for row in resent.sent(limit=len(sales))}
        assert {answers[event_id] for event_id in ids[len(early) :]} == {"duplicate"}
        assert f"sent {len(offline)} ({len(offline)} already there)" in tail(log)
    show_evidence(
        f"pos: {len(early)} sales sent, ingest stopped, {len(offline)} recorded meanwhile; "
        f"ingest restarted, flusher SIGKILLed at {killed_at.sent - len(early)} of them marked "
        f"sent, restarted; a pre-crash snapshot resent: {len(offline)} answered duplicate"
    )

    reader = TopicReader(
        profile_settings.kafka_bootstrap,
        profile_settings.topic_interactions,
        profile_settings.topic_partitions,
    )
    await reader.start()
    try:
        records = await reader.catch_up()
    finally:
        await reader.stop()
    on_topic = [dict(r.headers).get("event_id", b"").decode() for r in records]
    assert sorted(on_topic) == sorted(ids), "each recorded sale is on the topic exactly once"

    async with serve(profile_settings) as profile:
        for phone in phones:
            digits = phone.replace(" ", "").removeprefix("+86")
            response = await eventually(
                functools.partial(profile.get, "/v1/customers/lookup", params={"phone": digits}),
                lambda r: r.status_code == 200 and r.json()["rfm"]["frequency"] >= SALES_EACH,
                timeout_s=60,
            )
            rfm = response.json()["rfm"]
            assert rfm["frequency"] == SALES_EACH, rfm
            assert Decimal(rfm["monetary"]) == expected[phone], rfm
    recorded_at = datetime.fromisoformat(Outbox(outbox).sent(limit=1)[0].recorded_at)
    assert datetime.now(UTC) - recorded_at < timedelta(minutes=10)


async def test_the_generator_sends_pos_events_through_the_tills(
    profile_settings: ProfileSettings, tmp_path: Path
) -> None:
    """`make demo`'s path: POS events go through per-store outboxes, the rest directly; every
    event ends accepted, and the outboxes are empty afterwards."""
    token = await create_token(profile_settings.database_url, name="test-pos-generator")
    folder = tmp_path / "tills"
    async with ingest_process(profile_settings, free_port(), tmp_path / "ingest.log") as url:
        tally = await run(
            url=url,
            customers=30,
            rate=40,
            duration=3,
            seed=11,
            concurrency=8,
            retries=3,
            progress=None,
            api_key=token,
            tills=folder,
        )
    assert tally.answered["outbox sent"] > 0, tally.answered
    assert set(tally.answered) <= SETTLED, tally.answered
    assert sum(tally.answered.values()) == sum(tally.sent.values())
    show_evidence(
        f"pos: generator with --tills: {tally.answered['outbox sent']} POS events via "
        f"{len(list(folder.glob('*.sqlite3')))} store outboxes, {tally.answered['202']} direct"
    )
    for outbox in folder.glob("*.sqlite3"):
        with Outbox(outbox) as box:
            assert box.counts().pending == 0

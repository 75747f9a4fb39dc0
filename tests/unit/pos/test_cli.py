"""`touchpoint-pos` on a real outbox file: record, status, show, flush (ingest away), rejected."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import httpx
from typer.testing import CliRunner

from touchpoint_pos import AsyncPosClient, PosClient
from touchpoint_pos.answers import EventVerdict, Fate, Verdict
from touchpoint_pos.cli import app
from touchpoint_pos.outbox import Outbox

runner = CliRunner()
SALE = {
    "type": "purchase",
    "channel": "pos",
    "store_id": "SH-023",
    "customer": {"phone": "+86 139 1234 5678"},
    "payload": {"order_id": "O-1", "amount": "10.00", "currency": "CNY", "items": []},
}


def closed_port() -> int:
    """A local port nobody listens on (connection refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_record_status_show_and_a_flush_with_ingest_away(tmp_path: Path) -> None:
    """Two events recorded from JSON lines stay pending through a failed flush (exit 1, the
    error shown), and `show` prints no personal data unless asked for bodies."""
    outbox = str(tmp_path / "till.sqlite3")
    lines = "\n".join(json.dumps(SALE) for _ in range(2))
    recorded = runner.invoke(app, ["record", "--outbox", outbox], input=lines)
    assert recorded.exit_code == 0, recorded.output
    assert len(recorded.output.split()) == 2
    flushed = runner.invoke(
        app,
        [
            *["flush", "--outbox", outbox, "--url", f"http://127.0.0.1:{closed_port()}"],
            *["--api-key", "tp_x", "--max-seconds", "0.3", "--max-backoff", "0.1"],
        ],
    )
    assert flushed.exit_code == 1, flushed.output
    assert "pending 2" in flushed.output
    assert "ConnectError" in flushed.output
    status = runner.invoke(app, ["status", "--outbox", outbox])
    assert "pending   2" in status.output
    assert "ConnectError" in status.output
    shown = runner.invoke(app, ["show", "--outbox", outbox])
    assert "purchase" in shown.output
    assert "1234" not in shown.output
    assert "1234" in runner.invoke(app, ["show", "--outbox", outbox, "--bodies"]).output


def test_rejected_lists_reasons_and_requeues(tmp_path: Path) -> None:
    """A refused event is listed with the server's reason and can be put back in the queue."""
    path = tmp_path / "till.sqlite3"
    with Outbox(path) as box:
        event_id = box.record(SALE)
        [row] = box.pending()
        reason = EventVerdict(
            Fate.REJECTED, "403", "this key may only post events of its own stores"
        )
        box.settle([row], Verdict({event_id: reason}))
    listed = runner.invoke(app, ["rejected", "--outbox", str(path)])
    assert event_id in listed.output
    assert "its own stores" in listed.output
    again = runner.invoke(app, ["rejected", "--outbox", str(path), "--requeue", event_id])
    assert again.exit_code == 0
    with Outbox(path) as box:
        assert [r.event_id for r in box.pending()] == [event_id]


def test_a_missing_outbox_is_an_error_not_an_empty_one(tmp_path: Path) -> None:
    """A mistyped path says so (exit 2) instead of creating an empty outbox."""
    result = runner.invoke(app, ["status", "--outbox", str(tmp_path / "typo.sqlite3")])
    assert result.exit_code == 2
    assert not (tmp_path / "typo.sqlite3").exists()


def test_async_use_records_and_flushes_without_blocking_the_loop(tmp_path: Path) -> None:
    """AsyncPosClient: record and flush awaited from a coroutine; the event is sent once."""
    seen: list[str] = []

    def ingest(request: httpx.Request) -> httpx.Response:
        events = json.loads(request.content)["events"]
        seen.extend(event["event_id"] for event in events)
        results = [
            {"index": i, "event_id": e["event_id"], "status": "accepted"}
            for i, e in enumerate(events)
        ]
        return httpx.Response(200, json={"results": results})

    async def till_loop() -> str:
        client = PosClient(
            tmp_path / "till.sqlite3",
            url="http://ingest",
            api_key="tp_x",
            transport=httpx.MockTransport(ingest),
        )
        async with AsyncPosClient(client) as pos:
            event_id = await pos.record(SALE)
            report = await pos.flush()
            assert report.sent == 1
        return event_id

    assert seen == [asyncio.run(till_loop())]

"""The generator's tills: POS events go to a per-store outbox and are sent by the POS client."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx

from touchpoint_devtools.generator.tills import Tills, is_till_event
from touchpoint_devtools.generator.traffic import TrafficModel


def accept_all(request: httpx.Request) -> httpx.Response:
    """A scripted ingest that accepts every event of a batch."""
    events = json.loads(request.content)["events"]
    results = [
        {"index": i, "event_id": e["event_id"], "status": "accepted"} for i, e in enumerate(events)
    ]
    return httpx.Response(200, json={"results": results})


def test_pos_events_go_through_one_outbox_per_store(tmp_path: Path) -> None:
    """Only POS-channel events are tills'; each store's are recorded in its own outbox, sent,
    and counted once in the run's outcome."""
    model = TrafficModel(customers=20, seed=4)
    events = [model.next_event(datetime.now(UTC)) for _ in range(300)]
    pos = [event for event in events if is_till_event(event)]
    assert 0 < len(pos) < len(events)
    tills = Tills(
        tmp_path, url="http://ingest", api_key="tp_x", transport=httpx.MockTransport(accept_all)
    )

    async def record_all() -> None:
        for event in pos:
            await tills.record(event)

    asyncio.run(record_all())
    outcome = tills.finish(max_seconds=10)
    assert outcome["outbox sent"] == len(pos)
    assert outcome["outbox pending"] == outcome["outbox rejected"] == 0
    stores = {str(event.get("store_id") or "pos") for event in pos}
    assert {path.stem for path in tmp_path.glob("*.sqlite3")} == stores

"""The generator's tills: POS events go through the POS client, as a store's till sends them.

Each store gets its own outbox file (`<folder>/<store>.sqlite3`) and a `PosClient` flushing it
in a background thread; `record` returns once the event is on disk. `finish` waits for the
outboxes to drain (or a deadline) and says what each sent, rejected or still holds. Events of
other channels (web, call centre, app) are not tills' and stay on the direct path.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import Counter
from pathlib import Path

import httpx

from touchpoint_devtools.generator.traffic import Event
from touchpoint_pos import Counts, FlusherBusy, PosClient

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def is_till_event(event: Event) -> bool:
    """Whether a store till records this event (the POS channel)."""
    return bool(event.get("channel") == "pos")


class Tills:
    """One POS client per store, created on its first event."""

    def __init__(
        self,
        folder: Path,
        *,
        url: str,
        api_key: str,
        interval_s: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.folder = folder
        self.url, self.api_key = url, api_key
        self.interval_s = interval_s
        self.transport = transport
        self.clients: dict[str, PosClient] = {}
        self.before: dict[str, Counts] = {}
        """Each outbox's counts when this run opened it (its files outlive a run)."""
        folder.mkdir(parents=True, exist_ok=True)

    def _client(self, store: str) -> PosClient:
        """The store's till client (started on first use)."""
        client = self.clients.get(store)
        if client is None:
            path = self.folder / f"{_UNSAFE.sub('_', store)}.sqlite3"
            client = PosClient(path, url=self.url, api_key=self.api_key, transport=self.transport)
            self.before[store] = client.outbox.counts()
            client.start(interval_s=self.interval_s)
            self.clients[store] = client
        return client

    async def record(self, event: Event) -> str:
        """Record the event in its store's outbox (durable when this returns); its event_id."""
        client = self._client(str(event.get("store_id") or "pos"))
        return await asyncio.to_thread(client.record, event)

    def finish(self, *, max_seconds: float) -> Counter[str]:
        """Stop the background flushers, flush what is left (each for `max_seconds` at most),
        close; how many events the outboxes sent and rejected in this run, and still hold."""
        outcome: Counter[str] = Counter()
        for store, client in self.clients.items():
            client.stop()
            with contextlib.suppress(FlusherBusy):
                client.flush(max_seconds=max_seconds)
            counts, before = client.outbox.counts(), self.before[store]
            outcome["outbox sent"] += counts.sent - before.sent
            outcome["outbox rejected"] += counts.rejected - before.rejected
            outcome["outbox pending"] += counts.pending
            client.close()
        return outcome

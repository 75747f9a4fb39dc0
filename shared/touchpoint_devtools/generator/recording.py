"""A client that keeps a ledger: every event sent, and which event_ids got a 2xx.

The ledger is the ground truth of a chaos run: an event counts once it has a 2xx (202
`accepted` or `duplicate`). Retryable answers (connection errors, 429, 5xx, 409 "in progress")
are retried with the same event_id and a capped backoff, as a real till would, until a final
answer or the give-up deadline.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

from touchpoint_devtools.generator.pacing import Pace, open_client, send_paced
from touchpoint_devtools.generator.traffic import Event, TrafficModel

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
IN_PROGRESS = "event_id_in_progress"
BACKOFF_FIRST_S = 0.1
BACKOFF_CAP_S = 2.0


@dataclass
class Ledger:
    """What the client sent and what it was told, by event_id."""

    sent: dict[str, Event] = field(default_factory=dict)
    accepted: dict[str, int] = field(default_factory=dict)
    """event_id -> the 2xx status that settled it."""
    refused: dict[str, str] = field(default_factory=dict)
    """event_id -> the final non-2xx answer (status and body), or "gave up: ..."."""
    answers: Counter[str] = field(default_factory=Counter)
    """Every answer seen, retries included, by status (or exception name)."""
    retries: int = 0
    first_sent: dict[str, float] = field(default_factory=dict)
    """event_id -> time.monotonic() of its first attempt (to place it among the faults)."""

    accepted_at: dict[str, float] = field(default_factory=dict)
    """event_id -> time.monotonic() of its 2xx."""
    took: dict[str, float] = field(default_factory=dict)
    """event_id -> seconds from its first attempt to its 2xx (retries included)."""

    def accepted_events(self) -> list[Event]:
        """The events that got a 2xx, in sending order."""
        return [event for event_id, event in self.sent.items() if event_id in self.accepted]


def is_retryable(status: int, body: str, *, retry_after: bool) -> bool:
    """True for answers worth the same request again: overload, outage, a claim in progress.

    A 409 is final (the event_id was used for another event) unless it says "in progress":
    the single-event answer carries Retry-After, a batch item the `event_id_in_progress` code.
    """
    if status in RETRY_STATUSES:
        return True
    return status == 409 and (retry_after or IN_PROGRESS in body)


async def post_until_answered(
    client: httpx.AsyncClient, event: Event, ledger: Ledger, *, give_up_after: float
) -> None:
    """Post one event until it gets a final answer; record that answer in the ledger."""
    event_id = str(event["event_id"])
    ledger.sent[event_id] = event
    ledger.first_sent.setdefault(event_id, time.monotonic())
    deadline = time.monotonic() + give_up_after
    delay = BACKOFF_FIRST_S
    last = ""
    while True:
        try:
            response = await client.post("/v1/events", json=event)
        except httpx.HTTPError as exc:
            last = type(exc).__name__
            ledger.answers[last] += 1
        else:
            status, body = response.status_code, response.text
            last = f"{status} {body[:200]}"
            ledger.answers[str(status)] += 1
            if 200 <= status < 300:
                ledger.accepted[event_id] = status
                ledger.accepted_at[event_id] = time.monotonic()
                ledger.took[event_id] = ledger.accepted_at[event_id] - ledger.first_sent[event_id]
                return
            if not is_retryable(status, body, retry_after="retry-after" in response.headers):
                ledger.refused[event_id] = last
                return
        if time.monotonic() + delay > deadline:
            ledger.refused[event_id] = f"gave up: {last}"
            return
        ledger.retries += 1
        await asyncio.sleep(delay)
        delay = min(BACKOFF_CAP_S, delay * 2)


async def send_recorded(
    *,
    url: str,
    model: TrafficModel,
    rate: float,
    duration: float,
    concurrency: int,
    ledger: Ledger,
    give_up_after: float = 300.0,
    stop_after: float = math.inf,
    headers: dict[str, str] | None = None,
) -> None:
    """Send `rate` events per second for `duration` seconds, every answer kept in `ledger`.

    No event is started after `stop_after` seconds; each is retried for `give_up_after` at most.
    """
    async with open_client(url, concurrency, headers=headers) as client:

        async def post(event: Event) -> None:
            await post_until_answered(client, event, ledger, give_up_after=give_up_after)

        pace = Pace(max(1, int(rate * duration)), rate, concurrency, stop_after)
        await send_paced(model, pace, post)

"""`python -m touchpoint_devtools.generator`: send realistic traffic to the ingest API."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from touchpoint_common.access.cli import API_KEY_ENV, DEV_KEY_FILE, bearer_headers
from touchpoint_devtools.generator.pacing import Pace, open_client, send_paced
from touchpoint_devtools.generator.tills import Tills, is_till_event
from touchpoint_devtools.generator.traffic import Event, TrafficModel

app = typer.Typer(add_completion=False, help=__doc__)
RETRYABLE = {409, 429, 502, 503, 504}
SETTLED = {"202", "outbox sent"}
"""Answers that mean the event is in: a direct 202, or sent by a till's outbox."""

# The load options, shared with `python -m touchpoint_devtools.chaos`.
CustomersOption = Annotated[int, typer.Option(min=1, help="Simulated customers.")]
RateOption = Annotated[float, typer.Option(min=0.1, help="Target events per second.")]
DurationOption = Annotated[float, typer.Option(min=0.1, help="Seconds to send for.")]
SeedOption = Annotated[int, typer.Option(help="Random seed: same seed, same traffic.")]
ConcurrencyOption = Annotated[int, typer.Option(min=1, help="Requests in flight at most.")]


@dataclass
class Tally:
    """What was sent and how the API answered."""

    sent: Counter[str] = field(default_factory=Counter)
    answered: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)

    def percentile(self, fraction: float) -> float:
        """Latency at a fraction (0..1) of the sorted answers, in milliseconds."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def post_with_retries(
    client: httpx.AsyncClient, event: Event, tally: Tally, retries: int
) -> None:
    """Post one event; retry retryable answers with the same event_id (idempotent)."""
    for attempt in range(retries + 1):
        started = time.perf_counter()
        try:
            response = await client.post("/v1/events", json=event)
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        else:
            status = str(response.status_code)
            tally.latencies.append(time.perf_counter() - started)
            if response.status_code not in RETRYABLE:
                break
        if attempt < retries:
            tally.retries += 1
            await asyncio.sleep(min(2.0, 0.2 * 2**attempt))
    tally.answered[status] += 1


async def run(
    *,
    url: str,
    customers: int,
    rate: float,
    duration: float,
    seed: int,
    concurrency: int,
    retries: int,
    progress: Progress | None,
    api_key: str | None = None,
    tills: Path | None = None,
    drain_s: float = 60.0,
) -> Tally:
    """Send `rate` events per second for `duration` seconds; returns the tally.

    With `tills` (a folder), POS events are recorded in per-store outboxes and sent by the POS
    client (touchpoint_pos); the rest, and everything without it, is posted directly, one
    request per event (the load path: nothing between the generator and the API).
    """
    model = TrafficModel(customers=customers, seed=seed)
    tally = Tally()
    total = max(1, int(rate * duration))
    task_id = progress.add_task("sending", total=total) if progress is not None else None
    headers = bearer_headers(api_key)
    token = headers.get("Authorization", "").removeprefix("Bearer ")
    stores = Tills(tills, url=url, api_key=token) if tills is not None else None
    async with open_client(url, concurrency, headers=headers) as client:

        async def post(event: Event) -> None:
            tally.sent[event["type"]] += 1
            try:
                if stores is not None and is_till_event(event):
                    await stores.record(event)
                else:
                    await post_with_retries(client, event, tally, retries)
            finally:
                if progress is not None and task_id is not None:
                    progress.advance(task_id)

        tally.elapsed = await send_paced(model, Pace(total, rate, concurrency), post)
    if stores is not None:
        tally.answered.update(await asyncio.to_thread(stores.finish, max_seconds=drain_s))
        tally.answered = +tally.answered  # drop zero counts
    return tally


def render(tally: Tally, console: Console) -> None:
    """The summary: events sent by type, answers by status, rate and latency."""
    sent = Table(title="sent by type")
    sent.add_column("type")
    sent.add_column("events", justify="right")
    for kind, count in sorted(tally.sent.items()):
        sent.add_row(kind, str(count))
    answered = Table(title="answered by status")
    answered.add_column("status")
    answered.add_column("events", justify="right")
    for status, count in sorted(tally.answered.items()):
        answered.add_row(status, str(count))
    console.print(sent, answered)
    elapsed = tally.elapsed or 1e-9
    total = sum(tally.sent.values())
    console.print(
        f"{total} events in {elapsed:.1f} s = {total / elapsed:.1f} events/s; "
        f"retries {tally.retries}; latency p50 {tally.percentile(0.5):.1f} ms, "
        f"p95 {tally.percentile(0.95):.1f} ms, p99 {tally.percentile(0.99):.1f} ms"
    )


@app.command()
def main(
    customers: CustomersOption = 200,
    rate: RateOption = 50.0,
    duration: DurationOption = 30.0,
    seed: SeedOption = 42,
    url: Annotated[str, typer.Option(help="Ingest base URL.")] = "http://localhost:8001",
    concurrency: ConcurrencyOption = 32,
    retries: Annotated[int, typer.Option(min=0, help="Retries of 409/503 answers.")] = 3,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar=API_KEY_ENV,
            help=f"API key (events:write, identity:link, offers:respond); default: {DEV_KEY_FILE}",
        ),
    ] = None,
    tills: Annotated[
        Path | None,
        typer.Option(
            help="Send POS events through the POS client, one outbox per store in this folder "
            "(`make demo` does); without it every event is posted directly (load tests)."
        ),
    ] = None,
) -> None:
    """Send realistic mixed traffic (POS, web, calls, complaints, visits, offers)."""
    console = Console()
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        tally = asyncio.run(
            run(
                url=url,
                customers=customers,
                rate=rate,
                duration=duration,
                seed=seed,
                concurrency=concurrency,
                retries=retries,
                progress=progress,
                api_key=api_key,
                tills=tills,
            )
        )
    render(tally, console)
    failures = sum(n for status, n in tally.answered.items() if status not in SETTLED)
    raise typer.Exit(code=1 if failures else 0)

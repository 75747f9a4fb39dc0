"""`touchpoint-pos`: look into a till's outbox and flush it.

touchpoint-pos status   --outbox till.sqlite3
touchpoint-pos show     --outbox till.sqlite3 [--sent] [--limit 20]
touchpoint-pos flush    --outbox till.sqlite3 --url http://ingest:8001 [--api-key ...]
touchpoint-pos rejected --outbox till.sqlite3 [--requeue EVENT_ID]
touchpoint-pos record   --outbox till.sqlite3 < events.jsonl
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from touchpoint_pos.backoff import Backoff
from touchpoint_pos.client import FlusherBusy, Limits, PosClient
from touchpoint_pos.outbox import Outbox

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
OutboxOption = Annotated[
    Path,
    typer.Option(envvar="TOUCHPOINT_POS_OUTBOX", help="The outbox file (SQLite)."),
]
DEFAULT_OUTBOX = Path("touchpoint-outbox.sqlite3")


def _open(outbox: Path) -> Outbox:
    """The outbox at this path; a missing file is an error (a typo must not look empty)."""
    if not outbox.exists():
        typer.echo(f"no outbox at {outbox}", err=True)
        raise typer.Exit(2)
    return Outbox(outbox)


@app.command()
def status(outbox: OutboxOption = DEFAULT_OUTBOX) -> None:
    """Pending, sent and rejected counts, the oldest pending event and the last error."""
    with _open(outbox) as box:
        counts = box.counts()
    typer.echo(f"pending   {counts.pending}")
    typer.echo(f"sent      {counts.sent}")
    typer.echo(f"rejected  {counts.rejected}")
    if counts.oldest_pending_at is not None:
        typer.echo(f"oldest pending recorded at {counts.oldest_pending_at}")
    if counts.last_error is not None:
        typer.echo(f"last error: {counts.last_error}")


@app.command()
def show(
    outbox: OutboxOption = DEFAULT_OUTBOX,
    sent: Annotated[bool, typer.Option(help="The latest sent events instead of pending.")] = False,
    limit: Annotated[int, typer.Option(min=1)] = 20,
    bodies: Annotated[
        bool, typer.Option(help="Print each event's JSON too (it holds personal data).")
    ] = False,
) -> None:
    """The oldest pending events (or the latest sent ones), one line each."""
    with _open(outbox) as box:
        rows = box.sent(limit=limit) if sent else box.pending(limit=limit)
    for row in rows:
        state = f"sent {row.sent_at} {row.answer}" if row.sent_at else f"attempts {row.attempts}"
        line = f"{row.seq:>8}  {row.event_id}  {row.event_type:<18} {row.recorded_at}  {state}"
        if row.last_error and not row.sent_at:
            line += f"  last error: {row.last_error[:120]}"
        typer.echo(line)
        if bodies:
            typer.echo(f"          {row.body.decode()}")


@app.command()
def flush(
    url: Annotated[str, typer.Option(envvar="TOUCHPOINT_INGEST_URL", help="Ingest base URL.")],
    api_key: Annotated[
        str, typer.Option(envvar="TOUCHPOINT_API_KEY", help="A key with events:write.")
    ],
    outbox: OutboxOption = DEFAULT_OUTBOX,
    batch_size: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    max_seconds: Annotated[
        float, typer.Option(min=0, help="Give up (events stay pending) after this; 0: never.")
    ] = 120.0,
    max_backoff: Annotated[float, typer.Option(min=0.1, help="Longest wait between tries.")] = 30.0,
) -> None:
    """Send the pending events, oldest first; exit 1 while some remain or the key is refused."""
    client = PosClient(
        _open(outbox),
        url=url,
        api_key=api_key,
        limits=Limits(max_events=batch_size),
        backoff=Backoff(max_s=max_backoff),
    )
    with client:
        try:
            report = client.flush(max_seconds=max_seconds or None)
        except FlusherBusy as busy:
            typer.echo(str(busy), err=True)
            raise typer.Exit(3) from busy
    typer.echo(
        f"sent {report.sent} ({report.duplicates} already there), rejected {report.rejected}, "
        f"pending {report.pending}; {report.requests} requests, "
        f"{report.failed_attempts} failed attempts"
    )
    if report.stalled:
        typer.echo(f"stalled: {report.stalled}", err=True)
    elif report.last_error and report.pending:
        typer.echo(f"last error: {report.last_error}", err=True)
    raise typer.Exit(1 if report.pending or report.stalled else 0)


@app.command()
def rejected(
    outbox: OutboxOption = DEFAULT_OUTBOX,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    requeue: Annotated[
        str | None, typer.Option(help="Move this rejected event back to pending.")
    ] = None,
) -> None:
    """Events ingest refused for good, with its answer and reason (or requeue one)."""
    with _open(outbox) as box:
        if requeue is not None:
            if not box.requeue(requeue):
                typer.echo(f"no rejected event {requeue}", err=True)
                raise typer.Exit(1)
            typer.echo(f"requeued {requeue}")
            return
        for row in box.rejected(limit=limit):
            typer.echo(
                f"{row.seq:>8}  {row.event_id}  {row.event_type:<18} {row.rejected_at}  "
                f"{row.answer}  {row.reason}"
            )


@app.command()
def record(
    outbox: OutboxOption = DEFAULT_OUTBOX,
    source: Annotated[
        str, typer.Argument(help="A file of JSON lines, one event each ('-': stdin).")
    ] = "-",
    till_id: Annotated[str, typer.Option(help="Which till recorded them.")] = "till",
) -> None:
    """Record events (JSON lines) into the outbox, creating it; prints each event_id."""
    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    with Outbox(outbox, till_id=till_id) as box:
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                event_id = box.record(json.loads(line))
            except ValueError as exc:
                typer.echo(f"line {number}: {exc}", err=True)
                raise typer.Exit(1) from exc
            typer.echo(event_id)

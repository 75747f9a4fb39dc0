"""`python -m touchpoint_profile.rebuild --since 2026-08-01T00:00:00Z` (default: window start)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from touchpoint_common.db.engine import create_engine, create_session_factory
from touchpoint_profile.consumer.runner import get_window_start
from touchpoint_profile.rebuild.service import Rebuilder, RebuildReport
from touchpoint_profile.settings import ProfileSettings

app = typer.Typer(help="Rebuild the profile projection from the interactions topic.")
console = Console()


async def rebuild(settings: ProfileSettings, since: datetime) -> RebuildReport:
    """Run one rebuild with a progress bar."""
    engine = create_engine(settings)
    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
    try:
        with Progress(*columns, TimeRemainingColumn(), console=console) as bar:
            task = bar.add_task("replaying", total=None)
            rebuilder = Rebuilder(
                settings,
                sessions=create_session_factory(engine),
                progress=lambda n: bar.advance(task, n),
                on_plan=lambda report: bar.update(task, total=report.planned),
            )
            return await rebuilder.run(since)
    finally:
        await engine.dispose()


@app.command()
def main(
    since: Annotated[
        datetime | None,
        typer.Option(help="Replay records written from this UTC moment (default: window start)."),
    ] = None,
) -> None:
    """Replay from `since` into a fresh table and swap it in atomically."""
    settings = ProfileSettings()
    start = since.replace(tzinfo=since.tzinfo or UTC) if since else None
    start = start or get_window_start(settings, datetime.now(UTC))
    report = asyncio.run(rebuild(settings, start))
    table = Table(title=f"profile rebuild from {report.since.isoformat()}")
    for column in ("records", "folded", "dead (skipped)", "kept tombstones", "seconds"):
        table.add_column(column, justify="right")
    table.add_row(
        str(report.records),
        str(report.folded),
        str(report.skipped),
        str(report.seeded),
        f"{report.seconds:.1f}",
    )
    console.print(table)


if __name__ == "__main__":
    app()

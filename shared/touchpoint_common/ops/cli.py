"""`python -m touchpoint_common.ops.cli lag [--group G] [--watch SECONDS]`: lag as a table."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from touchpoint_common.ops.collector import LagCollector
from touchpoint_common.ops.lag import LagReport
from touchpoint_common.ops.models import LagReportOut
from touchpoint_common.settings import CommonSettings

app = typer.Typer(help="Touchpoint operations: consumer lag.", no_args_is_help=True)
console = Console()


def _cell(value: int | float | None, *, seconds: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if seconds else str(value)


def render_report(report: LagReport) -> Table:
    """The report as kafka-consumer-groups lays it out, plus time lag and group totals."""
    collected = datetime.fromtimestamp(report.collected_at_ms / 1000, tz=UTC)
    table = Table(title=f"Consumer lag at {collected:%Y-%m-%d %H:%M:%S} UTC", show_lines=False)
    for name in ("GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG"):
        table.add_column(name, justify="left" if name in {"GROUP", "TOPIC"} else "right")
    table.add_column("TIME-LAG(s)", justify="right")
    for group in report.groups:
        for entry in group.partitions:
            table.add_row(
                group.group,
                entry.topic,
                str(entry.partition),
                _cell(entry.committed),
                str(entry.log_end),
                _cell(entry.lag),
                _cell(entry.lag_seconds, seconds=True),
            )
        table.add_row(
            f"[bold]{group.group}[/bold]",
            f"[dim]{group.state or '?'}, {group.members} members[/dim]",
            "total",
            "",
            "",
            f"[bold]{group.sum_lag}[/bold]",
            f"[bold]{group.max_lag_seconds:.1f}[/bold]",
            end_section=True,
        )
    return table


async def _collect(bootstrap: str, groups: list[str] | None, timeout_s: float) -> LagReport:
    collector = LagCollector(bootstrap=bootstrap, client_id="touchpoint-ops-cli")
    try:
        return await asyncio.wait_for(collector.collect(groups), timeout=timeout_s)
    finally:
        await collector.close()


@app.command()
def lag(
    group: Annotated[
        list[str] | None, typer.Option("--group", "-g", help="Only this group (repeatable).")
    ] = None,
    watch: Annotated[
        float | None, typer.Option(help="Refresh every SECONDS until interrupted.", min=0.5)
    ] = None,
    bootstrap: Annotated[
        str | None, typer.Option(help="Broker address; default TOUCHPOINT_KAFKA_BOOTSTRAP.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the broker.")] = 15.0,
) -> None:
    """Offset lag and time lag of every consumer group (or the named ones)."""
    address = bootstrap or CommonSettings().kafka_bootstrap
    groups = list(group) if group else None
    if watch is None:
        report = asyncio.run(_collect(address, groups, timeout))
        if as_json:
            out = LagReportOut.from_report(report, now=datetime.now(tz=UTC))
            console.print_json(out.model_dump_json())
        else:
            console.print(render_report(report))
        return
    with Live(console=console, auto_refresh=False) as live:
        try:
            while True:
                try:
                    live.update(render_report(asyncio.run(_collect(address, groups, timeout))))
                except Exception as exc:  # keep watching through a broker outage
                    live.update(f"[red]lag unavailable: {type(exc).__name__}[/red]")
                live.refresh()
                time.sleep(watch)
        except KeyboardInterrupt:
            return


@app.command()
def groups(
    bootstrap: Annotated[
        str | None, typer.Option(help="Broker address; default TOUCHPOINT_KAFKA_BOOTSTRAP.")
    ] = None,
) -> None:
    """List the consumer groups the broker knows."""
    address = bootstrap or CommonSettings().kafka_bootstrap

    async def _list() -> list[str]:
        collector = LagCollector(bootstrap=address, client_id="touchpoint-ops-cli")
        try:
            return await collector.list_groups()
        finally:
            await collector.close()

    for name in asyncio.run(_list()):
        console.print(name)


if __name__ == "__main__":
    app()

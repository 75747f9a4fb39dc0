"""`python -m touchpoint_common.ops.cli lag [--group G] [--watch SECONDS]`: lag as a table."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from touchpoint_common.access.cli import bearer_headers
from touchpoint_common.ops.collector import LagCollector
from touchpoint_common.ops.models import LagReportOut
from touchpoint_common.settings import CommonSettings

app = typer.Typer(help="Touchpoint operations: consumer lag.", no_args_is_help=True)
console = Console(width=None if Console().is_terminal else 140)


def _cell(value: int | float | None, *, seconds: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if seconds else str(value)


def render_report(report: LagReportOut) -> Table:
    """The report as kafka-consumer-groups lays it out, plus time lag and group totals."""
    table = Table(title=f"Consumer lag at {report.collected_at:%Y-%m-%d %H:%M:%S} UTC")
    for name in ("GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG"):
        table.add_column(name, justify="left" if name in {"GROUP", "TOPIC"} else "right")
    table.add_column("TIME-LAG(s)", justify="right")
    for group in report.groups:
        for entry in group.partitions:
            table.add_row(
                group.group,
                entry.topic,
                str(entry.partition),
                _cell(entry.current_offset),
                str(entry.log_end_offset),
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


async def _collect(bootstrap: str, groups: list[str] | None, timeout_s: float) -> LagReportOut:
    collector = LagCollector(bootstrap=bootstrap, client_id="touchpoint-ops-cli")
    try:
        report = await asyncio.wait_for(collector.collect(groups), timeout=timeout_s)
    finally:
        await collector.close()
    return LagReportOut.from_report(report, now=datetime.now(tz=UTC))


def _fetch(url: str, groups: list[str] | None, timeout_s: float) -> LagReportOut:
    """The lag a running service reports at GET /v1/ops/lag (key: TOUCHPOINT_API_KEY or file)."""
    response = httpx.get(
        f"{url.rstrip('/')}/v1/ops/lag",
        params={"refresh": "true"},
        timeout=timeout_s,
        headers=bearer_headers(),
    )
    response.raise_for_status()
    report = LagReportOut.model_validate(response.json())
    if groups:
        report.groups = [entry for entry in report.groups if entry.group in groups]
    return report


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
    url: Annotated[
        str | None,
        typer.Option(help="Ask a running service (e.g. http://127.0.0.1:8002) instead."),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the broker.")] = 15.0,
) -> None:
    """Offset lag and time lag of every consumer group (or the named ones)."""
    address = bootstrap or CommonSettings().kafka_bootstrap
    groups = list(group) if group else None

    def read() -> LagReportOut:
        if url is not None:
            return _fetch(url, groups, timeout)
        return asyncio.run(_collect(address, groups, timeout))

    if watch is None:
        report = read()
        if as_json:
            console.print_json(report.model_dump_json())
        else:
            console.print(render_report(report))
        return
    with Live(console=console, auto_refresh=False) as live:
        try:
            while True:
                try:
                    live.update(render_report(read()))
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

"""The lag table the CLI prints."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console

from touchpoint_common.ops.cli import render_report
from touchpoint_common.ops.lag import GroupState, PartitionOffsets, build_report
from touchpoint_common.ops.models import LagReportOut

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _rendered() -> str:
    now_ms = int(NOW.timestamp() * 1000)
    report = build_report(
        [
            PartitionOffsets(
                group="touchpoint-profile",
                topic="interactions",
                partition=0,
                committed=3,
                log_end=7,
                oldest_unconsumed_ms=now_ms - 12_500,
            ),
            PartitionOffsets(
                group="touchpoint-profile",
                topic="interactions",
                partition=1,
                committed=None,
                log_end=4,
            ),
        ],
        now_ms=now_ms,
        states={"touchpoint-profile": GroupState(state="Stable", members=2)},
    )
    console = Console(record=True, width=160)
    console.print(render_report(LagReportOut.from_report(report, now=NOW)))
    return console.export_text()


def test_table_has_the_official_columns_and_dashes_for_no_position() -> None:
    """Columns as kafka-consumer-groups prints them; an uncommitted partition shows "-"."""
    text = _rendered()
    for column in ("GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG"):
        assert column in text
    rows = [line.split("│") for line in text.splitlines() if "interactions" in line]
    cells = [[cell.strip() for cell in row if cell.strip()] for row in rows]
    assert cells == [
        ["touchpoint-profile", "interactions", "0", "3", "7", "4", "12.5"],
        ["touchpoint-profile", "interactions", "1", "-", "4", "-", "-"],
    ]


def test_table_shows_group_totals_and_state() -> None:
    """A total line per group: state, members, summed lag and worst time lag."""
    total = next(line for line in _rendered().splitlines() if "total" in line)
    cells = [cell.strip() for cell in total.split("│") if cell.strip()]
    assert cells == ["touchpoint-profile", "Stable, 2 members", "total", "4", "12.5"]

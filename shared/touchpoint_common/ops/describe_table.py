"""Reads the table `kafka-consumer-groups --describe` prints, to compare it with our figures."""

from __future__ import annotations

from dataclasses import dataclass

_REQUIRED = ("GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG")


@dataclass(frozen=True, kw_only=True)
class DescribedPartition:
    """One row of the official tool's table; None where it prints "-"."""

    group: str
    topic: str
    partition: int
    current_offset: int | None
    log_end_offset: int | None
    lag: int | None


def _number(cell: str) -> int | None:
    return None if cell == "-" else int(cell)


def parse_describe_table(output: str) -> list[DescribedPartition]:
    """Every row under each GROUP/TOPIC/PARTITION header; other lines (notices) are skipped."""
    rows: list[DescribedPartition] = []
    columns: dict[str, int] | None = None
    for line in output.splitlines():
        cells = line.split()
        if not cells:
            continue
        if all(name in cells for name in _REQUIRED):
            columns = {name: cells.index(name) for name in cells}
            continue
        if columns is None or len(cells) <= max(columns[name] for name in _REQUIRED):
            continue
        if not cells[columns["PARTITION"]].isdigit():
            continue
        rows.append(
            DescribedPartition(
                group=cells[columns["GROUP"]],
                topic=cells[columns["TOPIC"]],
                partition=int(cells[columns["PARTITION"]]),
                current_offset=_number(cells[columns["CURRENT-OFFSET"]]),
                log_end_offset=_number(cells[columns["LOG-END-OFFSET"]]),
                lag=_number(cells[columns["LAG"]]),
            )
        )
    return sorted(rows, key=lambda row: (row.group, row.topic, row.partition))

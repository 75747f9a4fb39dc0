"""Stamped steps of a record: `<step>_at` and `<step>_by` (occurred_at, event id) decide which
of two sightings of the same step is kept, so records merge the same in any order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel

Wins = Callable[[datetime, str, datetime | None, str | None], bool]


def earlier(at: datetime, by: str, than_at: datetime | None, than_by: str | None) -> bool:
    """True when (at, by) comes first: the first writer of a step wins."""
    return than_at is None or (at, by) < (than_at, than_by or "")


def later(at: datetime, by: str, than_at: datetime | None, than_by: str | None) -> bool:
    """True when (at, by) comes last: the last writer of a step wins."""
    return than_at is None or (at, by) > (than_at, than_by or "")


def take_stamp(
    into: BaseModel, other: BaseModel, stamp: str, values: tuple[str, ...], wins: Wins
) -> None:
    """Copy other's `stamp`_at/_by (and the values it stamps) into `into` when it wins."""
    at, by = getattr(other, f"{stamp}_at"), getattr(other, f"{stamp}_by")
    if at is not None and wins(
        at, by or "", getattr(into, f"{stamp}_at"), getattr(into, f"{stamp}_by")
    ):
        for name in (f"{stamp}_at", f"{stamp}_by", *values):
            setattr(into, name, getattr(other, name))

"""Choosing cut points from small histograms the database returns (pure).

The job never brings customers into Python: PostgreSQL groups them by value (a purchase count,
an R x F x M product: at most a few hundred distinct values) and these functions pick the cut
points whose shares come nearest to the texts' quintiles and 20/60/20 bands. With ties a
quintile cannot be exact: a value is never split between two scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

QUINTILE_SHARES = (0.2, 0.4, 0.6, 0.8)
BAND_SHARE = 0.2
"""Top 20% of R x F x M are the best customers, the bottom 20% to be avoided (brief, RFM)."""

Histogram = Sequence[tuple[int, int]]
"""(value, customers with that value), any order."""


@dataclass(frozen=True, slots=True)
class Bands:
    """R x F x M at or above `top_min`: top 20%; at or below `bottom_max`: bottom 20%."""

    top_min: int
    bottom_max: int


def _share_below(ordered: list[tuple[int, int]], total: int) -> dict[int, float]:
    """For each distinct value, the share of customers strictly below it."""
    below: dict[int, float] = {}
    running = 0
    for value, count in ordered:
        below[value] = running / total
        running += count
    return below


def get_quintile_cuts(histogram: Histogram) -> tuple[int, int, int, int]:
    """Four strictly rising cut points: a value at or above cut i scores i + 2 (1..5), each
    cut placed where the share of customers below it comes nearest to 20/40/60/80%; the
    lowest value always scores 1."""
    ordered = sorted((value, count) for value, count in histogram if count > 0)
    total = sum(count for _, count in ordered)
    if total == 0:
        raise ValueError("no customers to cut")
    below = _share_below(ordered, total)
    cuts: list[int] = []
    for share in QUINTILE_SHARES:
        floor = cuts[-1] if cuts else None
        candidates = [
            value for value in below if value > (ordered[0][0] if floor is None else floor)
        ]
        if not candidates:  # too few distinct values: an empty score above the others
            cuts.append((floor if floor is not None else ordered[-1][0]) + 1)
            continue
        cuts.append(min(candidates, key=lambda value: (abs(below[value] - share), value)))
    return cuts[0], cuts[1], cuts[2], cuts[3]


def get_bands(histogram: Histogram) -> Bands:
    """The R x F x M thresholds whose top and bottom bands come nearest to 20% each."""
    ordered = sorted((value, count) for value, count in histogram if count > 0)
    total = sum(count for _, count in ordered)
    if total == 0:
        raise ValueError("no customers to band")
    below = _share_below(ordered, total)
    at_or_above = {value: 1 - share for value, share in below.items()}
    top_min = min(
        (value for value in below if value > ordered[0][0]),
        key=lambda value: (abs(at_or_above[value] - BAND_SHARE), -value),
        default=ordered[-1][0] + 1,
    )
    at_or_below = {value: below[value] + count / total for value, count in ordered}
    bottom_max = min(
        (value for value, _ in ordered if value < top_min),
        key=lambda value: (abs(at_or_below[value] - BAND_SHARE), value),
    )
    return Bands(top_min=top_min, bottom_max=bottom_max)


def get_rising(cuts: Sequence[Decimal], step: Decimal = Decimal("0.01")) -> tuple[Decimal, ...]:
    """The cuts made strictly rising (a tie moves up by a cent), as the fold rules require."""
    rising: list[Decimal] = []
    for cut in cuts:
        rising.append(cut if not rising or cut > rising[-1] else rising[-1] + step)
    return tuple(rising)

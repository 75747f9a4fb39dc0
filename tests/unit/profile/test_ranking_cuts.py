"""Cut points from histograms: quintiles and the 20/60/20 R x F x M bands of the texts."""

from __future__ import annotations

import itertools
from collections import Counter
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from touchpoint_profile.ranking.cuts import get_bands, get_quintile_cuts, get_rising


def _scores(values: list[int], cuts: tuple[int, int, int, int]) -> Counter[int]:
    """How many values score 1..5 (at or above cut i scores i + 2)."""
    return Counter(1 + sum(value >= cut for cut in cuts) for value in values)


def test_distinct_values_give_five_equal_quintiles() -> None:
    """Brief: F and M scored by quintile, top 20% = 5 ... bottom 20% = 1: 1..100 gives 20 each."""
    values = list(range(1, 101))
    cuts = get_quintile_cuts([(value, 1) for value in values])
    assert cuts == (21, 41, 61, 81)
    assert _scores(values, cuts) == {1: 20, 2: 20, 3: 20, 4: 20, 5: 20}


def test_ties_are_never_split_and_cuts_rise() -> None:
    """60% of buyers bought once: they all score 1 (a value is not split), and the cuts above
    keep rising as the fold rules require."""
    histogram = [(1, 60), (2, 20), (3, 10), (4, 10)]
    cuts = get_quintile_cuts(histogram)
    assert cuts[0] == 2
    assert list(cuts) == sorted(set(cuts))


@given(st.dictionaries(st.integers(1, 200), st.integers(1, 1000), min_size=1, max_size=60))
def test_quintile_cuts_always_rise(histogram: dict[int, int]) -> None:
    """Whatever the base, four strictly rising cuts (FoldRules refuses anything else)."""
    cuts = get_quintile_cuts(list(histogram.items()))
    assert all(a < b for a, b in itertools.pairwise(cuts))


def test_bands_split_top_20_middle_60_bottom_20() -> None:
    """Brief: top 20% by R x F x M are the best, bottom 20% to be avoided, middle 60% between."""
    histogram = [(value, 10) for value in range(1, 11)]  # 100 customers, products 1..10
    bands = get_bands(histogram)
    assert (bands.top_min, bands.bottom_max) == (9, 2)


@given(st.dictionaries(st.integers(1, 125), st.integers(1, 1000), min_size=1, max_size=125))
def test_bottom_band_lies_below_the_top_band(histogram: dict[int, int]) -> None:
    """The bottom threshold is always below the top one, so the bands never overlap."""
    bands = get_bands(list(histogram.items()))
    assert bands.bottom_max < bands.top_min


def test_tied_monetary_cuts_are_made_rising() -> None:
    """Equal quintile boundaries (many equal baskets) move up by a cent each."""
    rising = get_rising([Decimal("10"), Decimal("10"), Decimal("10"), Decimal("20")])
    assert rising == (Decimal("10"), Decimal("10.01"), Decimal("10.02"), Decimal("20"))

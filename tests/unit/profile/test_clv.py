"""CLV by BG/NBD + Gamma-Gamma: the fit on the real CDNOW log, the predictions, the classes."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from touchpoint_profile.fold.clv import (
    BgNbd,
    CustomerClv,
    GammaGamma,
    fit_bgnbd,
    fit_gamma_gamma,
    get_clv_class,
    get_customer_clv,
    get_expected_purchases,
    get_expected_value_per_purchase,
    get_predicted_value,
    get_top_cut,
)
from touchpoint_profile.fold.ranking import ClvParams

CDNOW = Path(__file__).parents[2] / "data" / "cdnow" / "CDNOW_sample.txt"
CALIBRATION_END = date(1997, 9, 30)
# The published fits on the 39-week calibration period (FHL 2005 "Counting your customers":
# r=0.243, alpha=4.414 weeks, a=0.793, b=2.426; FHL 2005 "RFM and CLV": p=6.25, q=3.74,
# gamma=15.44). Tolerance: 2% of each parameter (they are printed to 3 significant digits).
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "v": 15.44}
TOLERANCE = 0.02
FHL = BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426)


@dataclass(frozen=True)
class Summary:
    """Per-customer (x, t_x, T) in weeks and the average repeat purchase value."""

    x: list[int]
    t_x: list[float]
    T: list[float]
    m: list[float]


def read_cdnow() -> Summary:
    """The calibration summary as FHL build it: purchases on one day count once, the first
    purchase is not a repeat, the spend model averages the repeat purchases' values."""
    days: dict[str, dict[date, float]] = defaultdict(lambda: defaultdict(float))
    for line in CDNOW.read_text().splitlines():
        customer, _, day, _, amount = line.split()
        bought = date(int(day[:4]), int(day[4:6]), int(day[6:]))
        if bought <= CALIBRATION_END:
            days[customer][bought] += float(amount)
    summary = Summary([], [], [], [])
    for spend in days.values():
        ordered = sorted(spend)
        repeats = [spend[day] for day in ordered[1:]]
        summary.x.append(len(repeats))
        summary.t_x.append((ordered[-1] - ordered[0]).days / 7)
        summary.T.append((CALIBRATION_END - ordered[0]).days / 7)
        summary.m.append(sum(repeats) / len(repeats) if repeats else 0.0)
    return summary


@pytest.fixture(scope="module")
def cdnow() -> Summary:
    """The CDNOW sample's calibration summary."""
    return read_cdnow()


def test_the_cdnow_sample_is_the_published_cohort(cdnow: Summary) -> None:
    """2,357 customers, 946 of them with repeat purchases in the 39 weeks (FHL 2005)."""
    assert len(cdnow.x) == 2357
    assert sum(1 for x in cdnow.x if x > 0) == 946


def test_bgnbd_fit_on_cdnow_matches_the_published_parameters(cdnow: Summary) -> None:
    """The maximum-likelihood fit reproduces r=0.243, alpha=4.414, a=0.793, b=2.426 within 2%."""
    fitted = fit_bgnbd(cdnow.x, cdnow.t_x, cdnow.T)
    for name, published in PUBLISHED_BGNBD.items():
        assert getattr(fitted, name) == pytest.approx(published, rel=TOLERANCE), name


def test_gamma_gamma_fit_on_cdnow_matches_the_published_parameters(cdnow: Summary) -> None:
    """The spend model on the 946 repeat buyers reproduces p=6.25, q=3.74, gamma=15.44 (2%)."""
    fitted = fit_gamma_gamma(cdnow.x, cdnow.m)
    for name, published in PUBLISHED_GAMMA_GAMMA.items():
        assert getattr(fitted, name) == pytest.approx(published, rel=TOLERANCE), name


def test_bgnbd_forecasts_the_cdnow_holdout_within_15_percent(cdnow: Summary) -> None:
    """Summed over the cohort, the purchases expected in the 39 holdout weeks (1997-10-01 ..
    1998-06-30) are within 15% of the 1,882 purchase days the log records there (the model
    forecasts 1,654: BG/NBD is known to run a little low on this cohort's last weeks)."""
    actual = len(
        {
            (line.split()[0], line.split()[2])
            for line in CDNOW.read_text().splitlines()
            if line.split()[2] > CALIBRATION_END.strftime("%Y%m%d")
        }
    )
    assert actual == 1882
    expected = get_expected_purchases(FHL, 39.0, cdnow.x, cdnow.t_x, cdnow.T)
    assert float(np.sum(expected)) == pytest.approx(actual, rel=0.15)


def test_fhl_worked_example() -> None:
    """FHL 2005 (section 4): a customer with x=2, t_x=30.43, T=38.86 is expected to make
    1.226 purchases in the next 39 weeks."""
    expected = get_expected_purchases(FHL, 39.0, [2], [30.43], [38.86])
    assert float(expected[0]) == pytest.approx(1.226, abs=0.002)


@given(
    x=st.integers(min_value=1, max_value=30),
    gap=st.floats(min_value=0.0, max_value=50.0),
    extra=st.floats(min_value=0.0, max_value=50.0),
)
def test_a_longer_silence_lowers_the_expected_purchases(x: int, gap: float, extra: float) -> None:
    """Same history, longer since the last purchase: never more purchases expected."""
    t_x = 10.0
    recent = get_expected_purchases(FHL, 52.0, [x], [t_x], [t_x + gap])[0]
    older = get_expected_purchases(FHL, 52.0, [x], [t_x], [t_x + gap + extra])[0]
    assert older <= recent + 1e-9
    assert recent >= 0


def test_spend_shrinks_towards_the_base_mean() -> None:
    """Gamma-Gamma: one purchase of 100 is expected lower than 100 when the base mean is lower,
    and twenty purchases averaging 100 closer to 100."""
    spend = GammaGamma(p=6.25, q=3.74, v=15.44)
    one, many = get_expected_value_per_purchase(spend, [1, 20], [100.0, 100.0])
    base = 6.25 * 15.44 / 2.74
    assert base < one < many < 100


def test_predicted_value_of_a_loss_maker_is_below_zero() -> None:
    """A customer whose purchases lose money on average is predicted to lose more."""
    spend = GammaGamma(p=6.25, q=3.74, v=15.44)
    value = get_predicted_value(FHL, spend, horizon=52.0, x=[3], t_x=[20.0], T=[25.0], m=[-5.0])
    assert value[0] < 0


@pytest.mark.parametrize(
    ("historic", "predicted", "expected"),
    [
        (-1.0, 50.0, "below_zero"),
        (10.0, -0.5, "below_zero"),
        (500.0, 1.0, "most_valuable"),
        (50.0, 300.0, "most_growable"),
        (50.0, 10.0, "ordinary"),
    ],
)
def test_clv_classes(historic: float, predicted: float, expected: str) -> None:
    """The texts' classes: below zero first, then the top 20% by value to date (most valuable,
    cut 400 here), then the top 20% by predicted value (most growable, cut 200 here)."""
    got = get_clv_class(historic=historic, predicted=predicted, valuable_min=400, growable_min=200)
    assert got == expected


def test_top_cut_is_the_smallest_of_the_top_fifth() -> None:
    """Of 1..100 the top 20% are 81..100."""
    assert get_top_cut(range(1, 101)) == 81
    assert get_top_cut([]) is None


def test_one_customer_clv_from_the_ranking_parameters() -> None:
    """The view's figures for one customer from ClvParams (days): a regular buyer is predicted
    to bring more in 12 months than one silent for a year after ten purchases in a month (the
    model takes that one for gone); a loss maker is below zero."""
    now = datetime(2026, 11, 30, tzinfo=UTC)
    weeks = 7.0
    params = ClvParams(
        r=0.243,
        alpha=4.414 * weeks,
        a=0.793,
        b=2.426,
        p=6.25,
        q=3.74,
        v=15.44,
        valuable_min=500.0,
        growable_min=60.0,
    )

    def clv(last_days_ago: int, profit: str) -> CustomerClv:
        return get_customer_clv(
            params,
            purchases=10,
            first_purchase_at=now - timedelta(days=400),
            last_purchase_at=now - timedelta(days=last_days_ago),
            lifetime_profit=Decimal(profit),
            now=now,
        )

    regular, silent, losing = clv(3, "300"), clv(365, "300"), clv(3, "-40")
    assert regular.predicted_12m > silent.predicted_12m >= 0
    assert regular.historic == Decimal(300)
    assert regular.clv_class == "most_growable"
    assert silent.clv_class == "ordinary"
    assert losing.clv_class == "below_zero"
    never = get_customer_clv(
        params,
        purchases=0,
        first_purchase_at=None,
        last_purchase_at=None,
        lifetime_profit=Decimal(0),
        now=now,
    )
    assert never == CustomerClv(Decimal(0), Decimal(0), "ordinary")

"""Customer lifetime value by BG/NBD + Gamma-Gamma, fitted by maximum likelihood (pure).

Method (docs/clv.md):
- BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): while alive a
  customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha); after each purchase
  they drop out with probability p ~ Beta(a, b). From (x repeat purchases, t_x the time of the
  last one after the first, T the time since the first) it gives the expected purchases in
  the next t.
- Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV"; Fader & Hardie 2013): the value per
  purchase is Gamma(p, nu) with nu ~ Gamma(q, v), independent of the purchase process; it gives
  the expected value of a purchase given the customer's average over x purchases.
- Predicted value for the horizon = expected purchases x expected profit per purchase,
  undiscounted (12 months is short next to any discount rate we would use).
The time unit is whatever the caller passes (the ranking job uses days; the CDNOW test weeks).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

from touchpoint_profile.fold.ranking import ClvParams

Floats = NDArray[np.float64]
ClvClass = Literal["most_valuable", "most_growable", "below_zero", "ordinary"]
CENT = Decimal("0.01")
TOP_SHARE = 0.2
"""Most valuable / most growable: the top 20% of buyers (the texts' Pareto share)."""
_BOUND = (-9.0, 9.0)
"""Log-parameters stay within e^-9..e^9 (times scaled to about 1): a base the model does not
fit cannot drive the search to infinity, and each fit ends in a bounded number of steps."""


@dataclass(frozen=True, slots=True)
class BgNbd:
    """Fitted BG/NBD: purchase rate ~ Gamma(r, alpha), dropout ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True, slots=True)
class GammaGamma:
    """Fitted Gamma-Gamma spend model: value per purchase ~ Gamma(p, nu), nu ~ Gamma(q, v)."""

    p: float
    q: float
    v: float


def _floats(values: ArrayLike) -> Floats:
    return np.asarray(values, dtype=np.float64)


def get_bgnbd_log_likelihood(params: BgNbd, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Floats:  # noqa: N803
    """Per-customer log-likelihood of (x, t_x, T) under BG/NBD (FHL 2005, equation 6)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    xs, txs, ts = _floats(x), _floats(t_x), _floats(T)
    a1 = special.gammaln(r + xs) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.betaln(a, b + xs) - special.betaln(a, b) - (r + xs) * np.log(alpha + ts)
    repeat = xs > 0
    a3 = np.full_like(xs, -np.inf)
    a3[repeat] = (
        special.betaln(a + 1, b + xs[repeat] - 1)
        - special.betaln(a, b)
        - (r + xs[repeat]) * np.log(alpha + txs[repeat])
    )
    result: Floats = a1 + np.logaddexp(a2, a3)
    return result


def fit_bgnbd(x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> BgNbd:  # noqa: N803
    """Maximum-likelihood BG/NBD parameters (in the time unit of t_x and T)."""
    xs, txs, ts = _floats(x), _floats(t_x), _floats(T)
    scale = float(np.mean(ts)) or 1.0  # fit on times near 1 so the optimiser starts well

    def negative(log_params: Floats) -> float:
        r, alpha, a, b = np.exp(log_params)
        ll = get_bgnbd_log_likelihood(BgNbd(r, alpha, a, b), xs, txs / scale, ts / scale)
        return -float(np.sum(ll)) / len(xs)

    found = optimize.minimize(negative, np.zeros(4), method="L-BFGS-B", bounds=[_BOUND] * 4)
    r, alpha, a, b = (float(value) for value in np.exp(found.x))
    return BgNbd(r=r, alpha=alpha * scale, a=a, b=b)


def get_expected_purchases(
    params: BgNbd,
    t: float,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,  # noqa: N803
) -> Floats:
    """E[purchases in the next t | x, t_x, T] (FHL 2005, equation 10)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    xs, txs, ts = _floats(x), _floats(t_x), _floats(T)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        return _expected_purchases(r, alpha, a, b, t, xs, txs, ts)


def _expected_purchases(
    r: float, alpha: float, a: float, b: float, t: float, xs: Floats, txs: Floats, ts: Floats
) -> Floats:
    """Equation 10 on arrays."""
    hyper = special.hyp2f1(r + xs, b + xs, a + b + xs - 1, t / (alpha + ts + t))
    first = (a + b + xs - 1) / (a - 1)
    second = 1 - ((alpha + ts) / (alpha + ts + t)) ** (r + xs) * hyper
    alive_odds = np.where(
        xs > 0, a / np.maximum(b + xs - 1, 1e-12) * ((alpha + ts) / (alpha + txs)) ** (r + xs), 0.0
    )
    result: Floats = first * second / (1 + alive_odds)
    return result


def get_gamma_gamma_log_likelihood(params: GammaGamma, x: ArrayLike, m: ArrayLike) -> Floats:
    """Per-customer log-likelihood of the average value m over x purchases (m > 0, x >= 1)."""
    p, q, v = params.p, params.q, params.v
    xs, ms = _floats(x), _floats(m)
    result: Floats = (
        special.gammaln(p * xs + q)
        - special.gammaln(p * xs)
        - special.gammaln(q)
        + q * np.log(v)
        + (p * xs - 1) * np.log(ms)
        + p * xs * np.log(xs)
        - (p * xs + q) * np.log(v + xs * ms)
    )
    return result


def fit_gamma_gamma(x: ArrayLike, m: ArrayLike) -> GammaGamma:
    """Maximum-likelihood Gamma-Gamma parameters from customers with x >= 1 and m > 0."""
    xs, ms = _floats(x), _floats(m)
    keep = (xs >= 1) & (ms > 0)
    xs, ms = xs[keep], ms[keep]
    scale = float(np.mean(ms)) or 1.0

    def negative(log_params: Floats) -> float:
        p, q, v = np.exp(log_params)
        ll = get_gamma_gamma_log_likelihood(GammaGamma(p, q, v), xs, ms / scale)
        return -float(np.sum(ll)) / len(xs)

    found = optimize.minimize(negative, np.zeros(3), method="L-BFGS-B", bounds=[_BOUND] * 3)
    p, q, v = (float(value) for value in np.exp(found.x))
    return GammaGamma(p=p, q=q, v=v * scale)


def get_expected_value_per_purchase(params: GammaGamma, x: ArrayLike, m: ArrayLike) -> Floats:
    """E[value of a purchase | average m over x purchases]: shrinks m towards the base mean.

    A customer whose average is zero or below keeps it (Gamma-Gamma models positive values
    only; one who brings a loss per purchase is expected to keep doing so).
    """
    p, q, v = params.p, params.q, params.v
    xs, ms = _floats(x), _floats(m)
    base_mean = p * v / (q - 1) if q > 1 else float("nan")
    shrunk = np.where(xs > 0, p * (v + xs * ms) / np.maximum(p * xs + q - 1, 1e-12), base_mean)
    result: Floats = np.where(ms > 0, shrunk, np.where(xs > 0, ms, base_mean))
    return result


def get_predicted_value(
    purchases: BgNbd,
    spend: GammaGamma,
    *,
    horizon: float,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,  # noqa: N803
    m: ArrayLike,
) -> Floats:
    """Predicted value over `horizon` (undiscounted): expected purchases x value per purchase.

    `x` counts repeat purchases (all purchases - 1) and `m` is the average value per purchase.
    """
    count = get_expected_purchases(purchases, horizon, x, t_x, T)
    result: Floats = count * get_expected_value_per_purchase(spend, _floats(x) + 1, m)
    return result


def get_clv_class(
    *,
    historic: float,
    predicted: float,
    valuable_min: float | None,
    growable_min: float | None,
) -> ClvClass:
    """The texts' classes: below zero (costs more than it brings), most valuable (top 20% by
    value to date), most growable (top 20% by predicted value, not already most valuable)."""
    if historic < 0 or predicted < 0:
        return "below_zero"
    if valuable_min is not None and historic >= valuable_min:
        return "most_valuable"
    if growable_min is not None and predicted >= growable_min:
        return "most_growable"
    return "ordinary"


def get_top_cut(values: ArrayLike) -> float | None:
    """The smallest value of the top 20% (None for no values)."""
    ordered = np.sort(_floats(values))
    if ordered.size == 0:
        return None
    return float(ordered[int(np.floor(ordered.size * (1 - TOP_SHARE)))])


@dataclass(frozen=True, slots=True)
class CustomerClv:
    """One customer's CLV as the view shows it (reporting currency)."""

    historic: Decimal
    predicted_12m: Decimal
    clv_class: ClvClass


def get_customer_clv(
    params: ClvParams,
    *,
    purchases: int,
    first_purchase_at: datetime | None,
    last_purchase_at: datetime | None,
    lifetime_profit: Decimal,
    now: datetime,
) -> CustomerClv:
    """Historic value, predicted value over `params.horizon_days` and the class of one
    customer, from the fitted parameters of the current ranking (days as the time unit)."""
    if purchases <= 0 or first_purchase_at is None or last_purchase_at is None:
        return CustomerClv(Decimal(0), Decimal(0), "ordinary")
    day = 86400.0
    age = max(0.0, (now - first_purchase_at).total_seconds() / day)
    t_x = min(age, max(0.0, (last_purchase_at - first_purchase_at).total_seconds() / day))
    predicted = get_predicted_value(
        BgNbd(params.r, params.alpha, params.a, params.b),
        GammaGamma(params.p, params.q, params.v),
        horizon=float(params.horizon_days),
        x=[purchases - 1],
        t_x=[t_x],
        T=[age],
        m=[float(lifetime_profit) / purchases],
    )[0]
    value = float(predicted) if np.isfinite(predicted) else 0.0
    return CustomerClv(
        historic=lifetime_profit,
        predicted_12m=Decimal(repr(value)).quantize(CENT),
        clv_class=get_clv_class(
            historic=float(lifetime_profit),
            predicted=value,
            valuable_min=params.valuable_min,
            growable_min=params.growable_min,
        ),
    )

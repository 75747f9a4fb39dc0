"""Offer acceptance and lift as Prometheus gauges, refreshed on a timer (never per scrape)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from touchpoint_common.db.errors import is_retryable
from touchpoint_recommend.figures.models import OfferFigures
from touchpoint_recommend.figures.service import get_offer_figures

logger = logging.getLogger(__name__)

OFFER_ACCEPTANCE = Gauge(
    "touchpoint_offer_acceptance_rate",
    "Accepted / presented over the figures window (learned arm), by dimension and key.",
    ["dimension", "key"],
)
OFFER_HOLDOUT_ACCEPTANCE = Gauge(
    "touchpoint_offer_holdout_acceptance_rate",
    "Accepted / presented in the fixed-priority holdout, by dimension and key.",
    ["dimension", "key"],
)
OFFER_LIFT = Gauge(
    "touchpoint_offer_lift",
    "Acceptance rate minus the holdout's (absolute), by dimension and key.",
    ["dimension", "key"],
)
OFFER_PRESENTED = Gauge(
    "touchpoint_offer_presented", "Offers presented over the figures window.", ["dimension", "key"]
)


def set_offer_figures(figures: OfferFigures) -> None:
    """Export the figures (a key with no rate yet is left out of the rate gauges)."""
    for dimension, rows in (
        ("offer", figures.by_offer),
        ("segment", figures.by_segment),
        ("channel", figures.by_channel),
        ("store", figures.by_store),
    ):
        for row in rows:
            OFFER_PRESENTED.labels(dimension, row.key).set(row.presented + row.holdout_presented)
            if row.rate is not None:
                OFFER_ACCEPTANCE.labels(dimension, row.key).set(row.rate)
            if row.holdout_rate is not None:
                OFFER_HOLDOUT_ACCEPTANCE.labels(dimension, row.key).set(row.holdout_rate)
            if row.lift is not None:
                OFFER_LIFT.labels(dimension, row.key).set(row.lift)


async def refresh_offer_figures(
    sessions: async_sessionmaker[AsyncSession], *, window_days: int, every_s: float
) -> None:
    """Recompute the gauges every `every_s` over the last `window_days` days."""
    while True:
        now = datetime.now(UTC)
        try:
            async with sessions() as db_session:
                figures = await get_offer_figures(
                    db_session=db_session, since=now - timedelta(days=window_days), until=now
                )
            set_offer_figures(figures)
        except Exception as exc:
            if not is_retryable(exc):
                logger.exception("offer figures not refreshed")
        await asyncio.sleep(every_s)

"""Acceptance by offer, segment and channel from recommend_contacts, in one grouped query."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint_recommend.figures.models import Acceptance, Dimension, OfferFigures
from touchpoint_recommend.store.tables import contacts

GROUPING: dict[int, Dimension] = {0b011: "offer", 0b101: "segment", 0b110: "channel"}
"""GROUPING(offer, segment, channel): a 1 bit for each column a grouping set leaves out."""


def _rate(accepted: int, presented: int) -> float | None:
    return accepted / presented if presented else None


def get_acceptance(key: str, counts: dict[bool, tuple[int, int]]) -> Acceptance:
    """One row from (presented, accepted) per holdout flag."""
    presented, accepted = counts.get(False, (0, 0))
    held, held_accepted = counts.get(True, (0, 0))
    rate, holdout_rate = _rate(accepted, presented), _rate(held_accepted, held)
    return Acceptance(
        key=key,
        presented=presented,
        accepted=accepted,
        rate=rate,
        holdout_presented=held,
        holdout_accepted=held_accepted,
        holdout_rate=holdout_rate,
        lift=rate - holdout_rate if rate is not None and holdout_rate is not None else None,
    )


async def get_offer_figures(
    *, db_session: AsyncSession, since: datetime, until: datetime
) -> OfferFigures:
    """Contacts presented in [since, until) by offer, segment and channel (one grouped scan)."""
    offer, segment, channel = contacts.c.offer_id, contacts.c.segment, contacts.c.channel
    accepted = func.count().filter(contacts.c.outcome == "accepted")
    query = (
        select(
            func.grouping(offer, segment, channel).label("grouping"),
            func.coalesce(offer, segment, channel).label("key"),
            contacts.c.holdout,
            func.count().label("presented"),
            accepted.label("accepted"),
        )
        .where(contacts.c.presented_at >= since, contacts.c.presented_at < until)
        .group_by(
            func.grouping_sets(
                tuple_(offer, contacts.c.holdout),
                tuple_(segment, contacts.c.holdout),
                tuple_(channel, contacts.c.holdout),
            )
        )
    )
    rows: dict[Dimension, dict[str, dict[bool, tuple[int, int]]]] = {
        dimension: defaultdict(dict) for dimension in GROUPING.values()
    }
    for row in (await db_session.execute(query)).mappings():
        counts = (row["presented"], row["accepted"])
        rows[GROUPING[row["grouping"]]][row["key"]][row["holdout"]] = counts

    def listed(dimension: Dimension) -> list[Acceptance]:
        found = rows[dimension]
        return sorted(
            (get_acceptance(key, counts) for key, counts in found.items()),
            key=lambda row: (-row.presented, row.key),
        )

    return OfferFigures(
        since=since,
        until=until,
        by_offer=listed("offer"),
        by_segment=listed("segment"),
        by_channel=listed("channel"),
    )

"""Acceptance by offer, segment, channel and store from recommend_contacts (the store from
the decision's next-offer request, recommend_decisions.store_id), in one grouped query."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint_recommend.figures.models import Acceptance, Dimension, OfferFigures
from touchpoint_recommend.store.tables import contacts, decisions

GROUPING: dict[int, Dimension] = {
    0b0111: "offer",
    0b1011: "segment",
    0b1101: "channel",
    0b1110: "store",
}
"""GROUPING(offer, segment, channel, store): a 1 bit for each column a grouping set leaves
out."""


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
    """Contacts presented in [since, until) by offer, segment, channel and store (one grouped
    scan; contacts whose request named no store are left out of by_store)."""
    offer, segment, channel = contacts.c.offer_id, contacts.c.segment, contacts.c.channel
    store = decisions.c.store_id
    accepted = func.count().filter(contacts.c.outcome == "accepted")
    query = (
        select(
            func.grouping(offer, segment, channel, store).label("grouping"),
            func.coalesce(offer, segment, channel, store).label("key"),
            contacts.c.holdout,
            func.count().label("presented"),
            accepted.label("accepted"),
        )
        .select_from(
            contacts.outerjoin(decisions, decisions.c.decision_id == contacts.c.decision_id)
        )
        .where(contacts.c.presented_at >= since, contacts.c.presented_at < until)
        .group_by(
            func.grouping_sets(
                tuple_(offer, contacts.c.holdout),
                tuple_(segment, contacts.c.holdout),
                tuple_(channel, contacts.c.holdout),
                tuple_(store, contacts.c.holdout),
            )
        )
    )
    rows: dict[Dimension, dict[str, dict[bool, tuple[int, int]]]] = {
        dimension: defaultdict(dict) for dimension in GROUPING.values()
    }
    for row in (await db_session.execute(query)).mappings():
        if row["key"] is None:  # a contact whose request named no store
            continue
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
        by_store=listed("store"),
    )

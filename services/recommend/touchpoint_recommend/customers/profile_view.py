"""The live view (IDMR 'I') from the profile's public read API, turned into a CustomerSnapshot."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint_profile.read import (
    FoldRules,
    ProfileFigures,
    get_current_ranking,
    get_customer_profile,
)
from touchpoint_recommend.domain.snapshot import (
    ConsentItem,
    CustomerSnapshot,
    Interest,
    OfferHistoryItem,
    OpenComplaint,
    Rfm,
)


class CustomerReader(Protocol):
    """Reads the live view of one customer, None when the profile has never seen them."""

    async def get_snapshot(
        self, *, db_session: AsyncSession, customer_id: str, now: datetime
    ) -> CustomerSnapshot | None:
        """The customer as the decision sees them."""
        ...


def snapshot_from_view(view: ProfileFigures) -> CustomerSnapshot:
    """Map the profile's typed view onto the fields recommend rules can use."""
    return CustomerSnapshot(
        customer_id=view.customer_id,
        known=True,
        member=view.member,
        member_tier=view.member_tier,
        rfm=Rfm(
            window_days=view.rfm.window_days,
            recency_days=view.rfm.recency_days,
            frequency=view.rfm.frequency,
            monetary=float(view.rfm.monetary),
            r=view.rfm.r,
            f=view.rfm.f,
            m=view.rfm.m,
        ),
        tier=view.tier,
        lifecycle=view.lifecycle,
        interests=tuple(
            Interest(category=item.category, score=item.score) for item in view.interests
        ),
        recent_purchases=dict(view.recent_purchases),
        preferred_channel=view.channels.preferred_channel,
        open_complaints=tuple(
            OpenComplaint(
                complaint_id=item.complaint_id,
                # A complaint logged without category or severity still counts as open.
                category=item.category or "service",
                severity=item.severity or "unknown",
                age_days=item.age_days or 0,
            )
            for item in view.open_complaints
        ),
        offers=tuple(
            OfferHistoryItem(
                offer_id=item.offer_id,
                decision_id=item.decision_id,
                status=item.status,
                at=item.at,
            )
            for item in view.offers
        ),
        consents=tuple(
            ConsentItem(purpose=item.purpose, channel=item.channel, status=item.status)
            for item in view.consents
        ),
        csat=view.satisfaction.latest_csat if view.satisfaction else None,
        nps=view.satisfaction.latest_nps if view.satisfaction else None,
    )


class ProfileCustomerReader:
    """CustomerReader over touchpoint_profile.read, in-process on the same database."""

    def __init__(self, *, rules: FoldRules) -> None:
        self.rules = rules

    async def get_snapshot(
        self, *, db_session: AsyncSession, customer_id: str, now: datetime
    ) -> CustomerSnapshot | None:
        """The customer as the decision sees them, graded by the current base-wide ranking
        (the same one the profile view uses)."""
        view = await get_customer_profile(
            db_session=db_session,
            customer_id=customer_id,
            now=now,
            rules=self.rules,
            ranking=await get_current_ranking(db_session=db_session),
        )
        return None if view is None else snapshot_from_view(view)

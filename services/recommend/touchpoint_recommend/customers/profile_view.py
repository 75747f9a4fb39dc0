"""The live view (IDMR 'I') from the profile projection, turned into a CustomerSnapshot."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint_common.settings import CommonSettings
from touchpoint_profile.customers.service import get_customer_view
from touchpoint_profile.settings import ProfileSettings
from touchpoint_recommend.domain.snapshot import (
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


def _float(value: Any, default: float = 0.0) -> float:
    return default if value is None else float(value)


def snapshot_from_view(view: Mapping[str, Any]) -> CustomerSnapshot:
    """Map the profile's CustomerView (as a dict) onto the fields recommend rules can use."""
    rfm = view.get("rfm") or {}
    channels = view.get("channels") or {}
    offers = [
        OfferHistoryItem(
            offer_id=item["offer_id"],
            decision_id=item.get("decision_id"),
            status=item["status"],
            at=item["at"],
        )
        for item in view.get("offers") or []
        if item.get("status") in ("presented", "accepted", "rejected", "ignored")
    ]
    return CustomerSnapshot(
        customer_id=view["customer_id"],
        known=True,
        member=bool(view.get("member")),
        member_tier=view.get("member_tier"),
        rfm=Rfm(
            window_days=rfm.get("window_days") or 90,
            recency_days=rfm.get("recency_days"),
            frequency=rfm.get("frequency") or 0,
            monetary=_float(rfm.get("monetary")),
            r=rfm.get("r"),
            f=rfm.get("f"),
            m=rfm.get("m"),
        ),
        tier=view.get("tier"),
        lifecycle=view.get("lifecycle"),
        interests=tuple(
            Interest(category=item["category"], score=_float(item.get("score")))
            for item in view.get("interests") or []
        ),
        recent_purchases=dict(view.get("recent_purchases") or {}),
        preferred_channel=channels.get("preferred_channel"),
        open_complaints=tuple(
            OpenComplaint(
                complaint_id=item["complaint_id"],
                category=item.get("category") or "service",
                severity=item.get("severity") or "unknown",
                age_days=item.get("age_days") or 0,
            )
            for item in view.get("open_complaints") or []
        ),
        offers=tuple(offers),
    )


def get_profile_settings(settings: CommonSettings) -> ProfileSettings:
    """The profile's settings on the same servers and keys as ours (its fold rules from env)."""
    common = settings.model_dump(include=set(CommonSettings.model_fields))
    common.pop("service_name", None)
    return ProfileSettings(**common)


class ProfileCustomerReader:
    """CustomerReader over touchpoint_profile's get_customer_view, in-process, same database."""

    def __init__(self, *, settings: CommonSettings) -> None:
        self.view_settings = get_profile_settings(settings)

    async def get_snapshot(
        self, *, db_session: AsyncSession, customer_id: str, now: datetime
    ) -> CustomerSnapshot | None:
        """The customer as the decision sees them."""
        view = await get_customer_view(
            db_session=db_session, customer_id=customer_id, now=now, settings=self.view_settings
        )
        if view is None:
            return None
        return snapshot_from_view(view.model_dump(mode="python"))

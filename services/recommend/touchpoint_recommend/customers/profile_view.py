"""The live view (IDMR 'I') from the profile projection, turned into a CustomerSnapshot."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint_common.settings import CommonSettings
from touchpoint_recommend.domain.snapshot import (
    CustomerSnapshot,
    Interest,
    OfferHistoryItem,
    OpenComplaint,
    Rfm,
)

logger = logging.getLogger(__name__)
ViewGetter = Callable[..., Awaitable[Any]]
PROFILE_VIEW_MODULE = "touchpoint_profile.customers.service"
PROFILE_SETTINGS_MODULE = "touchpoint_profile.settings"


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


def _load_profile_getter() -> ViewGetter | None:
    try:
        module = importlib.import_module(PROFILE_VIEW_MODULE)
    except ImportError:
        return None
    getter: ViewGetter | None = getattr(module, "get_customer_view", None)
    return getter


def get_profile_settings(settings: CommonSettings) -> object | None:
    """The profile's settings on the same servers and keys as ours (its fold rules from env)."""
    try:
        module = importlib.import_module(PROFILE_SETTINGS_MODULE)
    except ImportError:
        return None
    common = settings.model_dump(include=set(CommonSettings.model_fields))
    common.pop("service_name", None)
    profile_settings: object = module.ProfileSettings(**common)
    return profile_settings


class ProfileCustomerReader:
    """CustomerReader over touchpoint_profile's get_customer_view, in-process, same database."""

    def __init__(
        self, *, settings: CommonSettings | None = None, getter: ViewGetter | None = None
    ) -> None:
        self.getter = getter or _load_profile_getter()
        self.view_settings = get_profile_settings(settings) if settings is not None else None
        if self.getter is None:
            logger.error(
                "touchpoint_profile.customers.service.get_customer_view is not importable: "
                "every customer is treated as unknown"
            )

    async def get_snapshot(
        self, *, db_session: AsyncSession, customer_id: str, now: datetime
    ) -> CustomerSnapshot | None:
        """The customer as the decision sees them."""
        if self.getter is None:
            return None
        extra = {"settings": self.view_settings} if self.view_settings is not None else {}
        view = await self.getter(db_session=db_session, customer_id=customer_id, now=now, **extra)
        if view is None:
            return None
        data = view.model_dump(mode="python") if hasattr(view, "model_dump") else dict(view)
        return snapshot_from_view(data)

"""The shapes of the offer figures."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

Dimension = Literal["offer", "segment", "channel", "store"]


class Acceptance(BaseModel):
    """One offer, segment, channel or store: contacts and acceptances, learned arm vs holdout."""

    key: str
    presented: int
    accepted: int
    rate: float | None
    """Accepted / presented for the learned (non-holdout) contacts."""
    holdout_presented: int
    holdout_accepted: int
    holdout_rate: float | None
    lift: float | None
    """rate - holdout_rate (absolute): what learning adds over the fixed-priority holdout."""


class OfferFigures(BaseModel):
    """`GET /v1/figures/offers`: acceptance per dimension over contacts since `since`."""

    since: datetime
    until: datetime
    by_offer: list[Acceptance]
    by_segment: list[Acceptance]
    by_channel: list[Acceptance]
    by_store: list[Acceptance]
    """Per store that asked for the decision (the next-offer request's `store_id`); contacts
    of requests that named no store are left out."""

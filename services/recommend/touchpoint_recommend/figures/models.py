"""The shapes of the offer figures."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

Dimension = Literal["offer", "segment", "channel"]


class Acceptance(BaseModel):
    """One offer, segment or channel: contacts and acceptances, learned arm vs holdout."""

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
    by_store: list[Acceptance] | None = None
    """TODO(lead): None until contacts carry the store_id of the next-offer request
    (attribution, issue 13); then one more grouping set in service.get_offer_figures."""

"""What the live feed sends per interaction: no identifiers, no free text, no amounts."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class LiveInteraction(BaseModel):
    """One new interaction of the customer, as the console shows it."""

    event_id: str
    type: str
    channel: str
    store_id: str | None
    occurred_at: datetime

"""The next-offers answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from touchpoint_recommend.domain.decide import Decision

DecisionChannel = Literal["pos", "call_centre", "web"]


@dataclass(frozen=True, slots=True)
class Attribution:
    """Who asked for a decision: recorded with it and on its event (acceptance by store)."""

    store_id: str | None = None
    agent_id: str | None = None


class NextOffers(Decision):
    """A decision plus whether its offer_presented event is on Kafka."""

    event_logged: bool
    """False only for a customer nobody knows (no id to key the event by): logged in the DB."""

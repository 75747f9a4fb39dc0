"""What the decision path and the learner need from storage, and nothing more."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from touchpoint_recommend.domain.decide import Decision
from touchpoint_recommend.domain.learning import Evidence, Outcome
from touchpoint_recommend.domain.policy import ContactRecord


class PresentedOffer(BaseModel):
    """One offer of a recorded decision."""

    model_config = ConfigDict(frozen=True)

    offer_id: str
    rank: int
    score: float
    kind: str | None = None


class PresentedDecision(BaseModel):
    """A decision as stored and as carried by its offer_presented event."""

    model_config = ConfigDict(frozen=True)

    decision_id: str
    customer_id: str | None
    channel: str
    segment: str
    strategy: str
    holdout: bool
    offers: list[PresentedOffer]
    config_version: str | None = None
    decided_at: datetime
    store_id: str | None = None
    """The store the request came from (attribution), when it said."""
    agent_id: str | None = None
    """The agent who asked (attribution), when the request said."""

    @classmethod
    def from_decision(
        cls, decision: Decision, *, store_id: str | None = None, agent_id: str | None = None
    ) -> PresentedDecision:
        """The storable part of a domain decision: its fields of the same name (of each offer,
        too), decided at the decision's as_of, attributed to the request's store and agent."""
        stored = decision.model_dump(include=set(cls.model_fields))
        return cls.model_validate(
            {**stored, "decided_at": decision.as_of, "store_id": store_id, "agent_id": agent_id}
        )


class ArmSummary(BaseModel):
    """Responses to the top offer of one arm (learned or holdout)."""

    model_config = ConfigDict(frozen=True)

    decisions: int
    responses: int
    accepted: int


class DecisionInputs(BaseModel):
    """What a decision reads from storage besides the customer's view."""

    model_config = ConfigDict(frozen=True)

    records: list[ContactRecord]
    """Offers presented to the customer since the contact policy's look-back, with responses."""
    evidence: dict[str, Evidence]
    """Responses per offer learned for the customer's segment."""
    offer_usage: dict[str, int]
    """Presentations so far per budgeted offer."""


class RecommendStore(Protocol):
    """Storage used inside one transaction; the caller commits."""

    async def get_decision_inputs(
        self,
        *,
        customer_id: str | None,
        since: datetime,
        segment: str,
        offer_ids: Iterable[str],
    ) -> DecisionInputs:
        """What a decision reads: the offers presented to the customer since a moment (none
        for an unknown customer), the responses learned for the segment, the presentations
        so far of the given offers (for budgets)."""
        ...

    async def create_decision(self, decision: PresentedDecision) -> bool:
        """Record a decision and its offers once; False when it was already there."""
        ...

    async def update_response(
        self, *, decision_id: str, offer_id: str, outcome: Outcome, at: datetime
    ) -> bool:
        """Record the first response to an offer and learn from it; False when not applied."""
        ...

    async def forget_customer(self, *, customer_id: str) -> None:
        """Unlink the customer's decisions from them (erasure); learned counts stay."""
        ...

    async def merge_customers(self, *, into: str, merged: list[str]) -> None:
        """Move merged customers' contact history to the surviving customer."""
        ...

    async def unmerge_customer(
        self, *, survivor: str, restored: str, followers: Sequence[str] = ()
    ) -> None:
        """Move the contact history a merge brought from `restored` (and from the `followers`,
        once merged into it) back to `restored`."""
        ...

    async def get_arm_summary(self) -> dict[str, ArmSummary]:
        """Acceptance of the top offer, learned arm vs holdout: the measured gain."""
        ...

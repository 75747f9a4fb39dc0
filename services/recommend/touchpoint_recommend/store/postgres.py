"""The PostgreSQL adapter of RecommendStore: one AsyncSession, the caller owns the commit."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import case, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint_recommend.domain.learning import Evidence, Outcome
from touchpoint_recommend.domain.policy import ContactRecord
from touchpoint_recommend.store.protocol import ArmSummary, PresentedDecision
from touchpoint_recommend.store.tables import (
    contacts,
    decisions,
    offer_usage,
    posteriors,
)

_CREATE_DECISION = text(
    f"WITH decision AS (INSERT INTO {decisions.name} (decision_id, customer_id, channel, "  # noqa: S608 (table names)
    "segment, strategy, holdout, offers, config_version, decided_at, store_id, agent_id) "
    "VALUES (:decision_id, :customer_id, :channel, :segment, :strategy, :holdout, "
    "CAST(:offers AS jsonb), :config_version, :decided_at, :store_id, :agent_id) "
    "ON CONFLICT (decision_id) DO NOTHING RETURNING decision_id), "
    f"presented AS (INSERT INTO {contacts.name} (decision_id, offer_id, customer_id, segment, "
    "kind, rank, holdout, channel, presented_at) "
    "SELECT decision.decision_id, offer.offer_id, :customer_id, :segment, offer.kind, "
    "offer.rank, :holdout, :channel, :decided_at FROM decision, "
    "unnest(CAST(:offer_ids AS text[]), CAST(:kinds AS text[]), CAST(:ranks AS integer[])) "
    "AS offer(offer_id, kind, rank)), "
    f"used AS (INSERT INTO {offer_usage.name} (offer_id, presented, accepted) "
    "SELECT used.offer_id, 1, 0 FROM decision, unnest(CAST(:usage_ids AS text[])) "
    "AS used(offer_id) ORDER BY used.offer_id "
    f"ON CONFLICT (offer_id) DO UPDATE SET presented = {offer_usage.name}.presented + 1) "
    "SELECT count(*) FROM decision"
)
"""A decision, its contact rows and its offers' usage counts, in one statement."""


def _outcome(value: str | None) -> Outcome | None:
    if value == "accepted":
        return "accepted"
    if value == "rejected":
        return "rejected"
    if value == "ignored":
        return "ignored"
    return None


class PostgresRecommendStore:
    """RecommendStore over SQLAlchemy Core statements."""

    def __init__(self, db_session: AsyncSession) -> None:
        self.db_session = db_session

    async def get_contact_records(
        self, *, customer_id: str, since: datetime
    ) -> list[ContactRecord]:
        """Offers presented to the customer since a moment, with responses."""
        query = select(
            contacts.c.offer_id,
            contacts.c.decision_id,
            contacts.c.presented_at,
            contacts.c.outcome,
            contacts.c.outcome_at,
        ).where(contacts.c.customer_id == customer_id, contacts.c.presented_at >= since)
        rows = (await self.db_session.execute(query)).all()
        return [
            ContactRecord(
                offer_id=row.offer_id,
                decision_id=row.decision_id,
                presented_at=row.presented_at,
                outcome=_outcome(row.outcome),
                outcome_at=row.outcome_at,
            )
            for row in rows
        ]

    async def get_evidence(self, *, segment: str) -> dict[str, Evidence]:
        """Responses per offer learned for a segment."""
        query = select(posteriors.c.offer_id, posteriors.c.successes, posteriors.c.failures).where(
            posteriors.c.segment == segment
        )
        rows = (await self.db_session.execute(query)).all()
        return {
            row.offer_id: Evidence(successes=row.successes, failures=row.failures) for row in rows
        }

    async def get_offer_usage(self, *, offer_ids: Iterable[str]) -> dict[str, int]:
        """Presentations so far per offer (for budgets)."""
        wanted = list(offer_ids)
        if not wanted:
            return {}
        query = select(offer_usage.c.offer_id, offer_usage.c.presented).where(
            offer_usage.c.offer_id.in_(wanted)
        )
        return {row.offer_id: row.presented for row in (await self.db_session.execute(query))}

    async def create_decision(self, decision: PresentedDecision) -> bool:
        """Record a decision and its offers once; False when it was already there.

        One statement (data-modifying CTEs: the decision row, its contact rows, the offers'
        usage counts), the same SQL whatever the number of offers: one round trip instead of
        three, prepared once per connection. A decision already there inserts nothing else."""
        offers = decision.offers
        inserted = await self.db_session.execute(
            _CREATE_DECISION,
            {
                **decision.model_dump(exclude={"offers"}),
                "offers": json.dumps([offer.model_dump(mode="json") for offer in offers]),
                "offer_ids": [offer.offer_id for offer in offers],
                "kinds": [offer.kind for offer in offers],
                "ranks": [offer.rank for offer in offers],
                "usage_ids": sorted({offer.offer_id for offer in offers}),
            },
        )
        return bool(inserted.scalar_one())

    async def update_response(
        self, *, decision_id: str, offer_id: str, outcome: Outcome, at: datetime
    ) -> bool:
        """Record the first response to an offer and learn from it; False when not applied."""
        applied = await self.db_session.execute(
            update(contacts)
            .where(
                contacts.c.decision_id == decision_id,
                contacts.c.offer_id == offer_id,
                contacts.c.outcome.is_(None),
            )
            .values(outcome=outcome, outcome_at=at)
            .returning(contacts.c.segment)
        )
        segment = applied.scalar_one_or_none()
        if segment is None:
            return False
        accepted = int(outcome == "accepted")
        learn = insert(posteriors).values(
            segment=segment,
            offer_id=offer_id,
            successes=accepted,
            failures=1 - accepted,
            updated_at=func.now(),
        )
        await self.db_session.execute(
            learn.on_conflict_do_update(
                index_elements=[posteriors.c.segment, posteriors.c.offer_id],
                set_={
                    "successes": posteriors.c.successes + accepted,
                    "failures": posteriors.c.failures + (1 - accepted),
                    "updated_at": func.now(),
                },
            )
        )
        if accepted:
            await self.db_session.execute(
                update(offer_usage)
                .where(offer_usage.c.offer_id == offer_id)
                .values(accepted=offer_usage.c.accepted + 1)
            )
        return True

    async def forget_customer(self, *, customer_id: str) -> None:
        """Unlink the customer's decisions from them (erasure); learned counts stay."""
        for table in (decisions, contacts):
            await self.db_session.execute(
                update(table).where(table.c.customer_id == customer_id).values(customer_id=None)
            )

    async def merge_customers(self, *, into: str, merged: list[str]) -> None:
        """Move merged customers' contact history to the surviving customer."""
        sources = [customer_id for customer_id in merged if customer_id != into]
        if not sources:
            return
        for table in (decisions, contacts):
            await self.db_session.execute(
                update(table)
                .where(table.c.customer_id.in_(sources))
                .values(
                    customer_id=into,
                    merged_from=func.coalesce(table.c.merged_from, table.c.customer_id),
                )
            )

    async def unmerge_customer(
        self, *, survivor: str, restored: str, followers: Sequence[str] = ()
    ) -> None:
        """Move the contact history a merge brought from `restored` (and from the `followers`,
        once merged into it) back to `restored`."""
        for table in (decisions, contacts):
            await self.db_session.execute(
                update(table)
                .where(
                    table.c.customer_id == survivor,
                    table.c.merged_from.in_([restored, *followers]),
                )
                .values(
                    customer_id=restored, merged_from=func.nullif(table.c.merged_from, restored)
                )
            )

    async def get_arm_summary(self) -> dict[str, ArmSummary]:
        """Acceptance of the top offer, learned arm vs holdout: the measured gain."""
        arm = case((contacts.c.holdout, "holdout"), else_="learned")
        query = (
            select(
                arm.label("arm"),
                func.count().label("decisions"),
                func.count(contacts.c.outcome).label("responses"),
                func.count().filter(contacts.c.outcome == "accepted").label("accepted"),
            )
            .where(contacts.c.rank == 1)
            .group_by(arm)
        )
        return {
            row.arm: ArmSummary(
                decisions=row.decisions, responses=row.responses, accepted=row.accepted
            )
            for row in (await self.db_session.execute(query))
        }

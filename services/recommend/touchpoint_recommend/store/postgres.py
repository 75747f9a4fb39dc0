"""The PostgreSQL adapter of RecommendStore: one AsyncSession, the caller owns the commit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import case, func, select, update
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
        """Record a decision and its offers once; False when it was already there."""
        inserted = await self.db_session.execute(
            insert(decisions)
            .values(
                **decision.model_dump(exclude={"offers"}),
                offers=[offer.model_dump(mode="json") for offer in decision.offers],
            )
            .on_conflict_do_nothing(index_elements=[decisions.c.decision_id])
            .returning(decisions.c.decision_id)
        )
        if inserted.scalar_one_or_none() is None:
            return False
        if not decision.offers:
            return True
        await self.db_session.execute(
            insert(contacts).values(
                [
                    {
                        "decision_id": decision.decision_id,
                        "offer_id": offer.offer_id,
                        "customer_id": decision.customer_id,
                        "segment": decision.segment,
                        "kind": offer.kind,
                        "rank": offer.rank,
                        "holdout": decision.holdout,
                        "channel": decision.channel,
                        "presented_at": decision.decided_at,
                    }
                    for offer in decision.offers
                ]
            )
        )
        usage = insert(offer_usage).values(
            [
                {"offer_id": offer_id, "presented": 1, "accepted": 0}
                for offer_id in sorted({offer.offer_id for offer in decision.offers})
            ]
        )
        await self.db_session.execute(
            usage.on_conflict_do_update(
                index_elements=[offer_usage.c.offer_id],
                set_={"presented": offer_usage.c.presented + 1},
            )
        )
        return True

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

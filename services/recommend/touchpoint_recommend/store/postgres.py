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
from touchpoint_recommend.store.protocol import ArmSummary, DecisionInputs, PresentedDecision
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


_DECISION_INPUTS = text(
    "SELECT (SELECT coalesce(json_agg(json_build_array(c.offer_id, c.decision_id, "  # noqa: S608 (table names)
    f"c.presented_at, c.outcome, c.outcome_at)), '[]') FROM {contacts.name} AS c "
    "WHERE c.customer_id = :customer_id AND c.presented_at >= :since)::text AS records, "
    "(SELECT coalesce(json_agg(json_build_array(p.offer_id, p.successes, p.failures)), '[]') "
    f"FROM {posteriors.name} AS p WHERE p.segment = :segment)::text AS evidence, "
    "(SELECT coalesce(json_agg(json_build_array(u.offer_id, u.presented)), '[]') "
    f"FROM {offer_usage.name} AS u WHERE u.offer_id = ANY(CAST(:offer_ids AS text[])))::text "
    "AS offer_usage"
)
"""Contact history since a moment, evidence of a segment, usage of some offers: one row."""


def _moment(value: str | None) -> datetime | None:
    """A timestamptz as json_build_array renders it (ISO 8601 with offset), or None."""
    return None if value is None else datetime.fromisoformat(value)


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

    async def get_decision_inputs(
        self,
        *,
        customer_id: str | None,
        since: datetime,
        segment: str,
        offer_ids: Iterable[str],
    ) -> DecisionInputs:
        """Contact history, learned evidence and offer usage in one statement (three
        aggregates as JSON arrays): one round trip instead of three, the same SQL for any
        number of offers."""
        row = (
            await self.db_session.execute(
                _DECISION_INPUTS,
                {
                    "customer_id": customer_id,
                    "since": since,
                    "segment": segment,
                    "offer_ids": list(offer_ids),
                },
            )
        ).one()
        records = [
            ContactRecord(
                offer_id=offer_id,
                decision_id=decision_id,
                presented_at=_moment(presented_at),
                outcome=_outcome(outcome),
                outcome_at=_moment(outcome_at),
            )
            for offer_id, decision_id, presented_at, outcome, outcome_at in json.loads(row.records)
        ]
        evidence = {
            offer_id: Evidence(successes=successes, failures=failures)
            for offer_id, successes, failures in json.loads(row.evidence)
        }
        usage: dict[str, int] = dict(json.loads(row.offer_usage))
        return DecisionInputs(records=records, evidence=evidence, offer_usage=usage)

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

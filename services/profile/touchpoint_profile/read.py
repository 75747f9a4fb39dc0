"""The profile's public read API for other services: the live customer view, typed.

What it returns has no identifiers and is computed from the projection alone: nothing is
decrypted (it is not even given the key-encryption key). The fold rules come from
`FoldRulesSettings` (TOUCHPOINT_PROFILE_RULES__*), the same source the profile reads.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint_common.identity.merges import MergeChainBroken, follow_merges_async
from touchpoint_profile.fold.evaluate import evaluate
from touchpoint_profile.fold.ranking import BaseRanking, ClvParams
from touchpoint_profile.fold.rules import FoldRules
from touchpoint_profile.fold.state import CustomerState
from touchpoint_profile.fold.view import (
    BUYER_STAGES,
    Channels,
    ClosedComplaint,
    CommitmentStatus,
    ComplaintStatus,
    ConsentPurpose,
    ConsentStanding,
    ConsentStatus,
    Interest,
    Lifecycle,
    LifetimeValue,
    MoneyApart,
    OfferSeen,
    OfferStatus,
    OpenCommitment,
    OpenComplaint,
    ProfileFigures,
    Rfm,
    RfmBand,
    Satisfaction,
    Tier,
    TimelineLine,
)
from touchpoint_profile.projection.postgres import PostgresProjection
from touchpoint_profile.ranking.current import get_current_ranking
from touchpoint_profile.settings import FoldRulesSettings

__all__ = [
    "BUYER_STAGES",
    "BaseRanking",
    "Channels",
    "ClosedComplaint",
    "ClvParams",
    "CommitmentStatus",
    "ComplaintStatus",
    "ConsentPurpose",
    "ConsentStanding",
    "ConsentStatus",
    "FoldRules",
    "FoldRulesSettings",
    "Interest",
    "Lifecycle",
    "LifetimeValue",
    "MoneyApart",
    "OfferSeen",
    "OfferStatus",
    "OpenCommitment",
    "OpenComplaint",
    "ProfileFigures",
    "Rfm",
    "RfmBand",
    "Satisfaction",
    "Tier",
    "TimelineLine",
    "get_current_ranking",
    "get_customer_profile",
    "get_view_trace",
]


async def get_customer_state(*, db_session: AsyncSession, customer_id: str) -> CustomerState | None:
    """The folded state, following merges to the surviving customer; None when unknown/erased."""
    projection = PostgresProjection(db_session)
    seen: dict[str, CustomerState | None] = {}

    async def merged_into(current: str) -> str | None:
        state = seen[current] = await projection.get_state(current)
        return None if state is None or state.is_erased else state.merged_into

    try:
        live_id = await follow_merges_async(customer_id, merged_into)
    except MergeChainBroken:
        return None
    state = seen[live_id]
    return None if state is None or state.is_erased else state


async def get_view_trace(*, db_session: AsyncSession, customer_id: str) -> str | None:
    """The W3C traceparent of the record whose fold last wrote this customer's view (merges
    followed); None when unknown, erased, or written while tracing was off."""
    state = await get_customer_state(db_session=db_session, customer_id=customer_id)
    if state is None:
        return None
    return await PostgresProjection(db_session).get_trace_parent(state.customer_id)


async def get_customer_profile(
    *,
    db_session: AsyncSession,
    customer_id: str,
    now: datetime,
    rules: FoldRules,
    ranking: BaseRanking | None = None,
) -> ProfileFigures | None:
    """The live view at `now` without identifiers (nothing decrypted); None: unknown or erased.

    F, M, the ABC tier and the R x F x M band come from `ranking` (the current base-wide
    ranking) when given, else from the fixed defaults of `rules`.
    """
    state = await get_customer_state(db_session=db_session, customer_id=customer_id)
    return None if state is None else evaluate(state, now, rules, ranking)

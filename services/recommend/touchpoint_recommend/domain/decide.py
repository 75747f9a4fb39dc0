"""One IDMR decision, pure: consent, segment, strategy, eligibility, policy, arbitration, reasons.

Consent (PIPL): marketing offers need the customer's marketing consent on the decision's
channel (config `consent`); service recovery never does. Without profiling consent the
decision does not use the profile: segments see no RFM, tier, lifecycle or interests, and the
ranking is the strategy's fixed priority (as for the holdout), with no learned draw.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from touchpoint_recommend.domain.config import RecommendConfig
from touchpoint_recommend.domain.eligibility import (
    Exclusion,
    allows_profiling,
    split_by_consent,
    split_eligible,
    strategy_offer_ids,
)
from touchpoint_recommend.domain.learning import Evidence
from touchpoint_recommend.domain.policy import ContactRecord, apply_contact_policy
from touchpoint_recommend.domain.ranking import (
    ScoreTerms,
    is_holdout,
    rank_fixed_priority,
    rank_learned,
    score_offers,
)
from touchpoint_recommend.domain.reasons import describe_standing, get_reasons
from touchpoint_recommend.domain.rules import DecisionContext
from touchpoint_recommend.domain.segmentation import assign_segment
from touchpoint_recommend.domain.snapshot import CustomerSnapshot


class RankedOffer(BaseModel):
    """One offer of the answer, with the arithmetic behind its place."""

    model_config = ConfigDict(frozen=True)

    offer_id: str
    title: str
    kind: str
    rank: int
    score: float
    terms: ScoreTerms
    reasons: list[str]
    pinned: str | None = None
    """Set when the contact policy put the offer first (open_complaint, membership_first)."""


class Decision(BaseModel):
    """The answer to 'what do we offer this customer now, here'."""

    model_config = ConfigDict(frozen=True)

    decision_id: str
    customer_id: str | None
    known_customer: bool
    channel: str
    as_of: datetime
    segment: str
    strategy: str
    holdout: bool
    customer_summary: str | None
    offers: list[RankedOffer]
    suppressed: list[Exclusion]
    config_version: str
    consent_removed: list[Exclusion] = []
    """Offers the customer's consent removed on this channel, each with why."""
    personalised: bool = True
    """False when profiling consent is missing: no profile figures, fixed-priority ranking."""


def decide(
    *,
    config: RecommendConfig,
    customer: CustomerSnapshot,
    channel: str,
    now: datetime,
    decision_id: str,
    records: list[ContactRecord],
    evidence_by_segment: Mapping[str, Mapping[str, Evidence]],
    offer_usage: Mapping[str, int],
    rng: random.Random,
    limit: int = 3,
    config_version: str | None = None,
) -> Decision:
    """Rank the offers for this customer on this channel; nothing here does I/O."""
    personalised = allows_profiling(config.consent, customer, channel)
    if not personalised:
        customer = customer.without_profiling()
    context = DecisionContext(customer=customer, channel=channel)
    segment = assign_segment(config, context)
    strategy = config.strategy_for(segment.id)
    eligible_anyway, excluded = split_eligible(
        config, context=context, today=now.date(), offer_usage=offer_usage
    )
    eligible, consent_removed = split_by_consent(
        eligible_anyway, rules=config.consent, customer=customer, channel=channel
    )
    wanted = strategy_offer_ids(config, strategy)
    candidates = [offer for offer in eligible if offer.id in wanted]
    policy = apply_contact_policy(
        config=config,
        candidates=candidates,
        eligible=eligible,
        context=context,
        records=records,
        now=now,
    )
    holdout = is_holdout(customer.customer_id or decision_id, config.holdout)
    fixed = holdout or not personalised
    scored = score_offers(
        policy.allowed,
        strategy=strategy,
        customer=customer,
        evidence=evidence_by_segment.get(segment.id, {}),
        learning=config.learning,
        rng=None if fixed else rng,
    )
    ranked = (
        rank_fixed_priority(scored, policy.pinned, strategy)
        if fixed
        else rank_learned(scored, policy.pinned)
    )
    offers = [
        RankedOffer(
            offer_id=item.offer.id,
            title=item.offer.title,
            kind=item.offer.kind,
            rank=index,
            score=round(item.score, 6),
            terms=item.terms,
            reasons=get_reasons(
                config,
                offer=item.offer,
                terms=item.terms,
                customer=customer,
                channel=channel,
                pin=policy.pinned.get(item.offer.id),
                holdout=holdout,
            ),
            pinned=policy.pinned.get(item.offer.id),
        )
        for index, item in enumerate(ranked[:limit], start=1)
    ]
    relevant_exclusions = [item for item in excluded if item.offer_id in wanted]
    return Decision(
        decision_id=decision_id,
        customer_id=customer.customer_id,
        known_customer=customer.known,
        channel=channel,
        as_of=now,
        segment=segment.id,
        strategy=strategy.id,
        holdout=holdout,
        customer_summary=describe_standing(customer),
        offers=offers,
        suppressed=[*policy.suppressed, *relevant_exclusions],
        config_version=config_version or config.fingerprint(),
        consent_removed=consent_removed,
        personalised=personalised,
    )

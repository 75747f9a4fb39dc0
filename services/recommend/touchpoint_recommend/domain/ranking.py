"""Next-best-action arbitration in the open: score = propensity x context x value x lever."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from touchpoint_recommend.domain.config import Holdout, Learning, Offer, Strategy
from touchpoint_recommend.domain.learning import Evidence, posterior_mean, sample_propensity
from touchpoint_recommend.domain.snapshot import CustomerSnapshot


class ScoreTerms(BaseModel):
    """Every factor of an offer's score, so a clerk or analyst can see why it won."""

    model_config = ConfigDict(frozen=True)

    propensity: float
    """The Thompson draw used for ranking (the posterior mean in the holdout)."""
    propensity_mean: float
    """The learned acceptance rate: Beta posterior mean for this segment x offer."""
    responses: int
    """How many responses the posterior rests on."""
    context_weight: float
    business_value: float
    lever: float


class Scored(BaseModel):
    """An offer with its terms and score."""

    model_config = ConfigDict(frozen=True)

    offer: Offer
    terms: ScoreTerms
    score: float


def is_holdout(key: str, holdout: Holdout) -> bool:
    """Deterministic assignment: the same key (customer or decision) always lands the same."""
    if holdout.share <= 0:
        return False
    digest = hashlib.sha256(f"{holdout.salt}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < holdout.share


def get_lever(offer: Offer, strategy: Strategy) -> float:
    """The strategy's business lever for the offer: by id, else by kind, else 1."""
    if offer.id in strategy.levers:
        return strategy.levers[offer.id]
    return strategy.levers.get(offer.kind, 1.0)


def get_context_weight(offer: Offer, strategy: Strategy, customer: CustomerSnapshot) -> float:
    """1 plus a capped boost from the customer's interest in what the offer is about."""
    affinity = sum(customer.interest_score(category) for category in offer.interests)
    return 1.0 + min(strategy.max_interest_boost, strategy.interest_weight * max(0.0, affinity))


def score_offers(
    offers: list[Offer],
    *,
    strategy: Strategy,
    customer: CustomerSnapshot,
    evidence: Mapping[str, Evidence],
    learning: Learning,
    rng: random.Random | None,
) -> list[Scored]:
    """Scores with a Thompson draw per offer (rng given) or the posterior mean (rng None)."""
    scored: list[Scored] = []
    for offer in sorted(offers, key=lambda item: item.id):
        seen = evidence.get(offer.id, Evidence())
        mean = posterior_mean(seen, learning)
        propensity = sample_propensity(seen, learning, rng) if rng is not None else mean
        terms = ScoreTerms(
            propensity=propensity,
            propensity_mean=mean,
            responses=seen.responses,
            context_weight=get_context_weight(offer, strategy, customer),
            business_value=offer.business_value,
            lever=get_lever(offer, strategy),
        )
        score = terms.propensity * terms.context_weight * terms.business_value * terms.lever
        scored.append(Scored(offer=offer, terms=terms, score=score))
    return scored


def rank_learned(scored: list[Scored], pinned: Mapping[str, str]) -> list[Scored]:
    """Pinned offers first, then by score (ties by offer id, for determinism)."""
    return sorted(
        scored, key=lambda item: (item.offer.id not in pinned, -item.score, item.offer.id)
    )


def rank_fixed_priority(
    scored: list[Scored], pinned: Mapping[str, str], strategy: Strategy
) -> list[Scored]:
    """The holdout's order: pinned, then the strategy's priority list, then business value."""
    position = {offer_id: index for index, offer_id in enumerate(strategy.priority)}
    unlisted = len(position)
    return sorted(
        scored,
        key=lambda item: (
            item.offer.id not in pinned,
            position.get(item.offer.id, unlisted),
            -item.offer.business_value,
            item.offer.id,
        ),
    )

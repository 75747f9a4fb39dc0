"""Which catalogue offers may be shown: channel, dates, rules, membership, budget, consent."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from pydantic import BaseModel, ConfigDict

from touchpoint_recommend.domain.config import ConsentRules, Offer, RecommendConfig, Strategy
from touchpoint_recommend.domain.rules import DecisionContext, all_hold
from touchpoint_recommend.domain.snapshot import CustomerSnapshot


class Exclusion(BaseModel):
    """An offer left out, and why (shown to analysts, not to the customer)."""

    model_config = ConfigDict(frozen=True)

    offer_id: str
    reason: str


def get_ineligibility(
    offer: Offer, *, context: DecisionContext, today: date, presented_so_far: int
) -> str | None:
    """Why the offer cannot be shown here and now, or None when it can."""
    if context.channel not in offer.channels:
        return f"not offered on channel {context.channel}"
    if not offer.is_valid_on(today):
        return f"not valid on {today.isoformat()}"
    if offer.kind == "membership" and context.customer.member:
        return "already a member"
    if offer.budget is not None and presented_so_far >= offer.budget:
        return f"budget of {offer.budget} presentations used up"
    if not all_hold(offer.eligibility, context):
        return "eligibility rules not met"
    return None


def split_eligible(
    config: RecommendConfig,
    *,
    context: DecisionContext,
    today: date,
    offer_usage: Mapping[str, int],
) -> tuple[list[Offer], list[Exclusion]]:
    """The catalogue split into offers that may be shown and offers that may not."""
    eligible: list[Offer] = []
    excluded: list[Exclusion] = []
    for offer in config.catalogue:
        reason = get_ineligibility(
            offer, context=context, today=today, presented_so_far=offer_usage.get(offer.id, 0)
        )
        if reason is None:
            eligible.append(offer)
        else:
            excluded.append(Exclusion(offer_id=offer.id, reason=reason))
    return eligible, excluded


def strategy_offer_ids(config: RecommendConfig, strategy: Strategy) -> set[str]:
    """The offers a strategy may choose from: those it lists plus every offer of its kinds."""
    by_kind = {offer.id for offer in config.catalogue if offer.kind in strategy.kinds}
    return set(strategy.offers) | by_kind


def get_consent_refusal(
    offer: Offer, *, rules: ConsentRules, customer: CustomerSnapshot, channel: str
) -> str | None:
    """Why consent forbids this offer on this channel, or None when it may be shown.

    A customer the profile has never seen is anonymous here: nothing personal is processed, so
    the channel's generic offers need no consent.
    """
    if offer.kind in rules.exempt_kinds or not customer.known:
        return None
    status = customer.consent("marketing", channel)
    if status == "withdrawn":
        return f"marketing consent withdrawn on channel {channel}"
    if status is None and rules.marketing_without_statement == "deny":
        return f"no marketing consent on channel {channel}"
    return None


def split_by_consent(
    offers: list[Offer], *, rules: ConsentRules, customer: CustomerSnapshot, channel: str
) -> tuple[list[Offer], list[Exclusion]]:
    """The offers the customer's marketing consent on this channel allows, and those it removes."""
    allowed: list[Offer] = []
    removed: list[Exclusion] = []
    for offer in offers:
        reason = get_consent_refusal(offer, rules=rules, customer=customer, channel=channel)
        if reason is None:
            allowed.append(offer)
        else:
            removed.append(Exclusion(offer_id=offer.id, reason=reason))
    return allowed, removed


def allows_profiling(rules: ConsentRules, customer: CustomerSnapshot, channel: str) -> bool:
    """Whether the decision may use the customer's profile (segments, interests, learning)."""
    status = customer.consent("profiling", channel)
    if not customer.known:
        return True
    if status is None:
        return rules.profiling_without_statement == "allow"
    return status == "granted"

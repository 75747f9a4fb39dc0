"""Contact policy: caps, suppression after a response, and what must come first."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from touchpoint_recommend.domain.config import ContactPolicy, Offer, RecommendConfig
from touchpoint_recommend.domain.eligibility import Exclusion
from touchpoint_recommend.domain.learning import Outcome
from touchpoint_recommend.domain.rules import DecisionContext

PinReason = Literal["open_complaint", "membership_first"]


class ContactRecord(BaseModel):
    """One offer presented to the customer, with the response when there is one."""

    model_config = ConfigDict(frozen=True)

    offer_id: str
    decision_id: str | None = None
    presented_at: datetime | None = None
    outcome: Outcome | None = None
    outcome_at: datetime | None = None


class PolicyResult(BaseModel):
    """Offers that may be ranked, those pinned to the top, and those held back with why."""

    model_config = ConfigDict(frozen=True)

    allowed: list[Offer]
    pinned: dict[str, PinReason]
    suppressed: list[Exclusion]


def get_history(context: DecisionContext, records: list[ContactRecord]) -> list[ContactRecord]:
    """Recommend's own contact records plus the responses the live view already shows."""
    from_view = [
        ContactRecord(
            offer_id=item.offer_id,
            decision_id=item.decision_id,
            outcome=item.status,
            outcome_at=item.at,
        )
        for item in context.customer.offers
        if item.status != "presented"
    ]
    return [*records, *from_view]


def _days_ago(now: datetime, then: datetime) -> str:
    days = max(0, (now - then).days)
    if days == 0:
        return "today"
    return "yesterday" if days == 1 else f"{days} days ago"


def _latest(history: list[ContactRecord], offer_id: str, outcome: Outcome) -> datetime | None:
    times = [
        record.outcome_at
        for record in history
        if record.offer_id == offer_id and record.outcome == outcome and record.outcome_at
    ]
    return max(times) if times else None


def count_contacts(history: list[ContactRecord], *, since: datetime) -> int:
    """Contacts since a moment: decisions that presented an offer (a record without a
    decision id counts alone)."""
    contacts = {
        record.decision_id or f"record-{index}"
        for index, record in enumerate(history)
        if record.presented_at and record.presented_at >= since
    }
    return len(contacts)


def get_contact_cap_reason(
    policy: ContactPolicy, *, tier: str | None, history: list[ContactRecord], now: datetime
) -> str | None:
    """Why the customer is not to be asked again now (None when under its cap): its tier's
    contacts per tier_caps.period_days when tier caps are set and it has a tier, else the one
    cap for all, offers per period_days."""
    caps = policy.tier_caps
    tier_cap = caps.cap_for(tier) if caps is not None else None
    if caps is not None and tier_cap is not None:
        contacts = count_contacts(history, since=now - timedelta(days=caps.period_days))
        if contacts >= tier_cap:
            return (
                f"tier {tier} contact plan: {contacts} contacts in the last "
                f"{caps.period_days} days (cap {tier_cap})"
            )
        return None
    period_start = now - timedelta(days=policy.period_days)
    presented = sum(1 for r in history if r.presented_at and r.presented_at >= period_start)
    if presented >= policy.max_offers_per_customer:
        return f"contact cap: {presented} offers presented in the last {policy.period_days} days"
    return None


def _suppression(
    offer: Offer,
    *,
    config: RecommendConfig,
    context: DecisionContext,
    history: list[ContactRecord],
    capped: str | None,
    now: datetime,
) -> str | None:
    policy = config.contact_policy
    period_start = now - timedelta(days=policy.period_days)
    if context.customer.open_complaints and policy.complaint_blocks_sales and offer.is_sales:
        return "open complaint: service recovery comes before any sales offer"
    if offer.kind != "service-recovery" and capped is not None:
        return capped
    presented = [r for r in history if r.presented_at and r.presented_at >= period_start]
    cap = offer.cap_per_customer or policy.max_per_offer_per_customer
    this_offer = sum(1 for r in presented if r.offer_id == offer.id)
    if this_offer >= cap:
        return f"offer cap: presented {this_offer} times in the last {policy.period_days} days"
    rejected_at = _latest(history, offer.id, "rejected")
    if rejected_at and now - rejected_at < timedelta(days=policy.rejection_suppression_days):
        return f"rejected {_days_ago(now, rejected_at)}"
    accepted_at = _latest(history, offer.id, "accepted")
    if accepted_at and now - accepted_at < timedelta(days=policy.acceptance_suppression_days):
        return f"already accepted {_days_ago(now, accepted_at)}"
    return None


def apply_contact_policy(
    *,
    config: RecommendConfig,
    candidates: list[Offer],
    eligible: list[Offer],
    context: DecisionContext,
    records: list[ContactRecord],
    now: datetime,
) -> PolicyResult:
    """Filter the strategy's candidates and pin what the policy puts first."""
    policy = config.contact_policy
    pinned: dict[str, PinReason] = {}
    pool = {offer.id: offer for offer in candidates}
    if context.customer.open_complaints:
        for offer in eligible:
            if offer.kind == "service-recovery":
                pinned[offer.id] = "open_complaint"
                pool[offer.id] = offer
    elif context.channel in policy.membership_first_channels and not context.customer.member:
        for offer in eligible:
            if offer.kind == "membership":
                pinned[offer.id] = "membership_first"
                pool[offer.id] = offer
    history = get_history(context, records)
    capped = get_contact_cap_reason(policy, tier=context.customer.tier, history=history, now=now)
    allowed: list[Offer] = []
    suppressed: list[Exclusion] = []
    for offer in pool.values():
        reason = _suppression(
            offer, config=config, context=context, history=history, capped=capped, now=now
        )
        if reason is None:
            allowed.append(offer)
        else:
            suppressed.append(Exclusion(offer_id=offer.id, reason=reason))
    kept_pins = {offer.id: pinned[offer.id] for offer in allowed if offer.id in pinned}
    return PolicyResult(allowed=allowed, pinned=kept_pins, suppressed=suppressed)

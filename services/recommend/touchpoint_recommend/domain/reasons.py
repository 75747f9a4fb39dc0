"""Reasons a clerk can read aloud, built from the same facts that drove the decision."""

from __future__ import annotations

from touchpoint_recommend.domain.config import Offer, RecommendConfig
from touchpoint_recommend.domain.ranking import ScoreTerms
from touchpoint_recommend.domain.snapshot import CustomerSnapshot

LIFECYCLE_WORDS = {
    "prospect": "has not bought yet",
    "new_buyer": "new buyer",
    "active": "active buyer",
    "mature": "long-standing buyer",
    "at_risk": "at risk",
    "lost": "stopped buying",
    "won_back": "won back",
}
TIMES = {1: "once", 2: "twice"}


def _times(count: int) -> str:
    return TIMES.get(count, f"{count} times")


def _label(config: RecommendConfig, category: str) -> str:
    return config.category_labels.get(category, category)


def describe_standing(customer: CustomerSnapshot) -> str | None:
    """'tier A, at risk: last purchase 74 days ago'."""
    if not customer.known:
        return None
    parts = []
    if customer.tier:
        parts.append(f"tier {customer.tier}")
    if customer.lifecycle:
        parts.append(LIFECYCLE_WORDS.get(customer.lifecycle, customer.lifecycle))
    text = ", ".join(parts)
    recency = customer.rfm.recency_days
    if recency is not None:
        last = f"last purchase {recency} days ago" if recency != 1 else "last purchase yesterday"
        text = f"{text}: {last}" if text else last
    return text or None


def describe_interest(
    config: RecommendConfig, offer: Offer, customer: CustomerSnapshot
) -> str | None:
    """'bought outdoor gear twice this month', else the strongest matching interest."""
    bought = [
        (customer.recent_purchases.get(category, 0), category)
        for category in offer.interests
        if customer.recent_purchases.get(category, 0) > 0
    ]
    if bought:
        count, category = max(bought)
        window = customer.rfm.window_days
        period = "this month" if window <= 31 else f"in the last {window} days"
        return f"bought {_label(config, category)} {_times(count)} {period}"
    scored = [
        (customer.interest_score(category), category)
        for category in offer.interests
        if customer.interest_score(category) > 0
    ]
    if scored:
        score, category = max(scored)
        return f"recently interested in {_label(config, category)} (score {score:.1f})"
    return None


def get_reasons(
    config: RecommendConfig,
    *,
    offer: Offer,
    terms: ScoreTerms,
    customer: CustomerSnapshot,
    channel: str,
    pin: str | None,
    holdout: bool,
) -> list[str]:
    """Why this offer, in plain words, most important first."""
    reasons: list[str] = []
    if pin == "open_complaint":
        for complaint in customer.open_complaints:
            age = "opened today" if complaint.age_days == 0 else f"{complaint.age_days} days old"
            reasons.append(
                f"open complaint about {complaint.category} ({complaint.severity}, {age}): "
                "put it right first"
            )
    elif pin == "membership_first":
        where = " at the till" if channel == "pos" else ""
        reasons.append(f"not a member yet: invite them to join{where}")
    elif not customer.known:
        reasons.append("first time we see this customer")
    if offer.kind == "win-back" and (standing := describe_standing(customer)):
        reasons.append(standing)
    if interest := describe_interest(config, offer, customer):
        reasons.append(interest)
    if offer.kind != "win-back" and customer.tier == "A" and customer.known:
        reasons.append("tier A customer")
    if not holdout and terms.responses >= config.learning.quote_after_responses:
        reasons.append(
            f"accepted by {terms.propensity_mean:.0%} of similar customers "
            f"({terms.responses} responses)"
        )
    if terms.lever > 1:
        reasons.append(f"a current business priority (lever x{terms.lever:g})")
    if holdout:
        reasons.append("fixed-priority choice (control group)")
    return reasons

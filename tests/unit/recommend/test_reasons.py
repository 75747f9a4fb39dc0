"""Reasons a clerk can read aloud."""

from __future__ import annotations

from tests.unit.recommend.factories import customer, run_decide


def test_recent_purchases_are_spoken_plainly() -> None:
    """Two outdoor purchases this month read as 'bought outdoor gear twice this month'."""
    snapshot = customer(interests={"outdoor": 2.0}, recent_purchases={"outdoor": 2})
    decision = run_decide(snapshot, limit=10)
    gear = next(o for o in decision.offers if o.offer_id == "gear-check")
    assert "bought outdoor gear twice this month" in gear.reasons


def test_standing_of_an_at_risk_vip() -> None:
    """Win-back offers say why: 'tier A, at risk: last purchase 74 days ago'."""
    decision = run_decide(customer(tier="A", lifecycle="at_risk", recency_days=74), limit=10)
    assert decision.customer_summary == "tier A, at risk: last purchase 74 days ago"
    win_back = next(o for o in decision.offers if o.kind == "win-back")
    assert "tier A, at risk: last purchase 74 days ago" in win_back.reasons


def test_interest_without_purchases_is_quoted_with_its_score() -> None:
    """Only browsing: the reason says interest, not a purchase."""
    decision = run_decide(customer(interests={"kids": 2.5}), limit=10)
    kids = next(o for o in decision.offers if o.offer_id == "kids-club")
    assert "recently interested in children's items (score 2.5)" in kids.reasons

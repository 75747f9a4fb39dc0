"""Contact policy: suppression after a response, caps, complaint first, membership first."""

from __future__ import annotations

from datetime import timedelta

from tests.unit.recommend.factories import NOW, customer, run_decide
from touchpoint_recommend.domain.policy import ContactRecord
from touchpoint_recommend.domain.snapshot import OfferHistoryItem, unknown_customer

FITNESS = {"fitness": 2.0}


def _ids(decision: object) -> list[str]:
    return [offer.offer_id for offer in decision.offers]  # type: ignore[attr-defined]


def _rejected(offer_id: str, days_ago: float) -> ContactRecord:
    at = NOW - timedelta(days=days_ago)
    return ContactRecord(
        offer_id=offer_id, decision_id="d-0", presented_at=at, outcome="rejected", outcome_at=at
    )


def test_rejected_offer_is_suppressed_for_the_configured_period() -> None:
    """Rejected 2 days ago: out, with the reason; 15 days ago (period 14): back in."""
    snapshot = customer(interests=FITNESS)
    fresh = run_decide(snapshot, limit=10, records=[_rejected("fitness-class", 2)])
    assert "fitness-class" not in _ids(fresh)
    assert {"offer_id": "fitness-class", "reason": "rejected 2 days ago"} in [
        s.model_dump() for s in fresh.suppressed
    ]
    old = run_decide(snapshot, limit=10, records=[_rejected("fitness-class", 15)])
    assert "fitness-class" in _ids(old)


def test_rejection_seen_in_the_live_view_also_suppresses() -> None:
    """A rejection the profile already folded counts even before the learner has it."""
    snapshot = customer(interests=FITNESS).model_copy(
        update={
            "offers": (
                OfferHistoryItem(
                    offer_id="gear-check", status="rejected", at=NOW - timedelta(hours=1)
                ),
            )
        }
    )
    assert "gear-check" not in _ids(run_decide(snapshot, limit=10))


def test_acceptance_suppresses_the_same_offer() -> None:
    """Accepted offers are not pushed again during the acceptance period."""
    accepted = ContactRecord(
        offer_id="gear-check", outcome="accepted", outcome_at=NOW - timedelta(days=3)
    )
    decision = run_decide(customer(interests=FITNESS), limit=10, records=[accepted])
    assert "gear-check" not in _ids(decision)


def test_open_complaint_puts_service_recovery_first_and_blocks_sales() -> None:
    """Any segment, any channel: a complaint means recovery offers only, pinned first."""
    decision = run_decide(
        customer(tier="A", lifecycle="active", complaints=1), channel="call_centre", limit=10
    )
    assert decision.offers
    assert all(offer.kind == "service-recovery" for offer in decision.offers)
    assert decision.offers[0].pinned == "open_complaint"
    assert "put it right first" in decision.offers[0].reasons[0]


def test_non_member_at_pos_gets_membership_first() -> None:
    """The till invites a non-member to join before anything else."""
    decision = run_decide(customer(member=False, interests=FITNESS), channel="pos")
    assert decision.offers[0].offer_id == "join-today"
    assert decision.offers[0].pinned == "membership_first"
    member = run_decide(customer(member=True, interests=FITNESS), channel="pos")
    assert "join-today" not in _ids(member)


def test_customer_cap_stops_sales_offers() -> None:
    """Six offers this week (cap 6): no more sales offers."""
    records = [
        ContactRecord(offer_id=f"x-{i}", presented_at=NOW - timedelta(days=1)) for i in range(6)
    ]
    decision = run_decide(customer(interests=FITNESS), records=records)
    assert decision.offers == []
    assert any(s.reason.startswith("contact cap: 6 offers") for s in decision.suppressed)


def test_customer_cap_counts_only_the_period() -> None:
    """Presentations older than the period do not count."""
    records = [
        ContactRecord(offer_id=f"x-{i}", presented_at=NOW - timedelta(days=8)) for i in range(6)
    ]
    assert run_decide(customer(interests=FITNESS), records=records).offers


def test_per_offer_cap() -> None:
    """The same offer twice this week (cap 2) is held back; others still come."""
    records = [
        ContactRecord(offer_id="fitness-class", presented_at=NOW - timedelta(days=d))
        for d in (1, 2)
    ]
    decision = run_decide(customer(interests=FITNESS), records=records, limit=10)
    assert "fitness-class" not in _ids(decision)
    assert decision.offers


def test_unknown_customer_gets_channel_default_not_error() -> None:
    """Unknown at the till: join; unknown on the web: open an account."""
    assert run_decide(unknown_customer(), channel="pos").offers[0].offer_id == "join-today"
    assert run_decide(unknown_customer(), channel="web").offers[0].offer_id == "web-account"

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
    """Six offers this week (cap 6) to a customer without a tier: no more sales offers."""
    records = [
        ContactRecord(offer_id=f"x-{i}", presented_at=NOW - timedelta(days=1)) for i in range(6)
    ]
    decision = run_decide(customer(tier=None, interests=FITNESS), records=records)
    assert decision.offers == []
    assert any(s.reason.startswith("contact cap: 6 offers") for s in decision.suppressed)


def test_customer_cap_counts_only_the_period() -> None:
    """Presentations older than the period do not count."""
    records = [
        ContactRecord(offer_id=f"x-{i}", presented_at=NOW - timedelta(days=8)) for i in range(6)
    ]
    assert run_decide(customer(tier=None, interests=FITNESS), records=records).offers


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


def _contacts(count: int, *, offers: int = 3, days_ago: float = 1) -> list[ContactRecord]:
    """`count` past decisions, each presenting `offers` offers, `days_ago` days ago."""
    at = NOW - timedelta(days=days_ago)
    return [
        ContactRecord(offer_id=f"x-{n}-{k}", decision_id=f"past-{n}", presented_at=at)
        for n in range(count)
        for k in range(offers)
    ]


def _contacts_in_a_month(tier: str) -> int:
    """How many of 30 daily visits get an offer for a customer of this tier (default config)."""
    records: list[ContactRecord] = []
    contacted = 0
    for day in range(30):
        now = NOW + timedelta(days=day)
        decision = run_decide(
            customer(tier=tier, interests=FITNESS),
            records=records,
            now=now,
            decision_id=f"d-{day}",
        )
        if decision.offers:
            contacted += 1
        records += [
            ContactRecord(offer_id=offer.offer_id, decision_id=f"d-{day}", presented_at=now)
            for offer in decision.offers
        ]
    return contacted


def test_tier_plans_give_a_more_contacts_a_month_than_b_and_b_than_c() -> None:
    """Brief section 5: tiers drive the contact plan ("A: visit 3x a month, call 2-3x; B:
    visit 2x, call 1-2x; C: visit 1x, call 1x"), so A gets more contacts a month than B and B
    more than C. A customer asking every day for 30 days is contacted up to its tier's cap
    (default 12 / 8 / 4 a month) and no more."""
    reached = {tier: _contacts_in_a_month(tier) for tier in ("A", "B", "C")}
    assert reached["A"] > reached["B"] > reached["C"] >= 1
    assert reached == {"A": 12, "B": 8, "C": 4}


def test_tier_cap_counts_contacts_not_offers_and_names_the_plan() -> None:
    """Four decisions of three offers each in the last 30 days reach tier C's cap (4
    contacts): sales offers are held back with the tier's reason; the same history leaves a
    tier B customer (cap 8) under its cap, and older contacts do not count."""
    records = _contacts(4, days_ago=20)
    capped = run_decide(customer(tier="C", interests=FITNESS), records=records)
    assert capped.offers == []
    assert any(
        s.reason == "tier C contact plan: 4 contacts in the last 30 days (cap 4)"
        for s in capped.suppressed
    )
    assert run_decide(customer(tier="B", interests=FITNESS), records=records).offers
    older = _contacts(4, days_ago=31)
    assert run_decide(customer(tier="C", interests=FITNESS), records=older).offers


def test_tier_cap_replaces_the_one_cap_for_all() -> None:
    """Seven offers this week exceed the one cap for all (6) but are three contacts: a tier
    A customer (cap 12 a month) is still offered, a customer without a tier is not."""
    records = _contacts(2, days_ago=1) + _contacts(1, offers=1, days_ago=2)
    assert len(records) == 7
    assert run_decide(customer(tier="A", interests=FITNESS), records=records).offers
    assert run_decide(customer(tier=None, interests=FITNESS), records=records).offers == []


def test_service_recovery_is_exempt_from_the_tier_cap() -> None:
    """A tier C customer at its cap with an open complaint still gets service recovery."""
    decision = run_decide(
        customer(tier="C", complaints=1), channel="call_centre", records=_contacts(4)
    )
    assert decision.offers
    assert all(offer.kind == "service-recovery" for offer in decision.offers)

"""Adapters at the edges: the profile's read view in, the offer_presented event both ways."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from tests.unit.recommend.factories import NOW, customer, run_decide
from touchpoint_profile.read import (
    Channels,
    ConsentStanding,
    Interest,
    OfferSeen,
    OpenComplaint,
    ProfileFigures,
    Rfm,
    Satisfaction,
)
from touchpoint_recommend.customers.profile_view import snapshot_from_view
from touchpoint_recommend.decisions.publish import ATTRIBUTION, build_offer_presented
from touchpoint_recommend.domain.rules import DecisionContext, Rule
from touchpoint_recommend.domain.segmentation import assign_segment
from touchpoint_recommend.learner.service import presented_from_event
from touchpoint_recommend.loader import load_default_config
from touchpoint_recommend.store.protocol import PresentedDecision


def _view(**overrides: object) -> ProfileFigures:
    fields: dict[str, object] = {
        "customer_id": "c-9",
        "member": True,
        "member_tier": "gold",
        "first_seen_at": NOW - timedelta(days=200),
        "last_seen_at": NOW - timedelta(days=74),
        "as_of": NOW,
        "rfm": Rfm(
            window_days=90, recency_days=74, frequency=1, monetary=Decimal("980.50"), r=2, f=2, m=5
        ),
        "tier": "A",
        "lifecycle": "at_risk",
        "interests": [Interest(category="outdoor", score=1.7)],
        "recent_purchases": {"outdoor": 2},
        "channels": Channels(counts={"pos": 3}, preferred_channel="pos", preferred_store="12"),
        "open_complaints": [],
        "offers": [
            OfferSeen(
                offer_id="we-miss-you",
                decision_id="d-0",
                kind="win-back",
                status="rejected",
                at=NOW - timedelta(days=1),
            )
        ],
        "timeline": [],
        "consents": [
            ConsentStanding(purpose=purpose, channel="pos", status="granted", at=NOW)
            for purpose in ("marketing", "profiling")
        ],
    }
    fields.update(overrides)
    return ProfileFigures.model_validate(fields)


def test_profile_view_maps_onto_the_snapshot() -> None:
    """Every field the rules read comes across from the profile's typed read model."""
    snapshot = snapshot_from_view(_view())
    assert snapshot.known
    assert (snapshot.tier, snapshot.lifecycle, snapshot.member) == ("A", "at_risk", True)
    assert snapshot.rfm.recency_days == 74
    assert snapshot.rfm.monetary == 980.5
    assert snapshot.interest_score("outdoor") == 1.7
    assert snapshot.recent_purchases == {"outdoor": 2}
    assert snapshot.preferred_channel == "pos"
    assert snapshot.offers[0].status == "rejected"
    assert snapshot.consent("marketing", "pos") == "granted"
    assert snapshot.consent("marketing", "web") is None
    config = load_default_config()
    segment = assign_segment(config, DecisionContext(customer=snapshot, channel="pos"))
    assert segment.id == "vip-at-risk"


def test_rejection_in_the_view_suppresses_and_complaint_switches_segment() -> None:
    """The view's offer history and open complaints drive the decision."""
    snapshot = snapshot_from_view(_view())
    decision = run_decide(snapshot, limit=10)
    assert "we-miss-you" not in [offer.offer_id for offer in decision.offers]
    gear = next(offer for offer in decision.offers if offer.offer_id == "gear-check")
    assert "bought outdoor gear twice in the last 90 days" in gear.reasons
    complaint = OpenComplaint(
        complaint_id="k1", category=None, severity=None, opened_at=NOW, age_days=0
    )
    with_complaint = snapshot_from_view(_view(open_complaints=[complaint]))
    assert run_decide(with_complaint).segment == "complaint-open"


def test_offer_presented_round_trip() -> None:
    """The event the service produces gives back, in the learner, the decision it recorded."""
    decision = run_decide(customer(interests={"fitness": 2.0}))
    event = build_offer_presented(decision, customer_id="c-1", now=NOW)
    assert event.type.value == "offer_presented"
    assert isinstance(event.event_id, uuid.UUID)
    replayed = presented_from_event(event)
    recorded = PresentedDecision.from_decision(decision)
    assert replayed.model_dump(exclude={"config_version"}) == recorded.model_dump(
        exclude={"config_version"}
    )
    assert "store_id" not in event.payload, "an unattributed decision keeps its old payload"


def test_offer_presented_carries_the_store_and_agent_both_ways() -> None:
    """Attribution (issue 13): the store and agent that asked are on the event's envelope and
    payload, and the learner's replay records them on the decision; an event posted with them
    only on the envelope is attributed too."""
    decision = run_decide(customer(interests={"fitness": 2.0}))
    event = build_offer_presented(
        decision, customer_id="c-1", now=NOW, store_id="12", agent_id="a7"
    )
    assert (event.store_id, event.agent_id) == ("12", "a7")
    assert (event.payload["store_id"], event.payload["agent_id"]) == ("12", "a7")
    replayed = presented_from_event(event)
    assert (replayed.store_id, replayed.agent_id) == ("12", "a7")
    assert replayed == PresentedDecision.from_decision(
        decision, store_id="12", agent_id="a7"
    ).model_copy(update={"config_version": None})
    envelope_only = event.model_copy(
        update={"payload": {k: v for k, v in event.payload.items() if k not in ATTRIBUTION}}
    )
    assert presented_from_event(envelope_only).store_id == "12"


def test_survey_scores_reach_the_rules_as_csat_and_nps() -> None:
    """The latest CSAT and NPS of the view become rule fields `csat` and `nps` (e.g. a
    detractor, NPS <= 6); without profiling consent they are dropped like the other figures."""
    satisfaction = Satisfaction(
        latest_at=NOW,
        latest_csat=2,
        latest_nps=4,
        average_csat=3.0,
        average_nps=6.5,
        count=2,
    )
    snapshot = snapshot_from_view(_view(satisfaction=satisfaction))
    assert (snapshot.csat, snapshot.nps) == (2, 4)
    detractor = Rule(field="nps", op="lte", value=6)
    unhappy = Rule(field="csat", op="lte", value=2)
    context = DecisionContext(customer=snapshot, channel="pos")
    assert detractor.holds(context)
    assert unhappy.holds(context)
    unknown = DecisionContext(customer=snapshot_from_view(_view()), channel="pos")
    assert not detractor.holds(unknown)
    assert snapshot.without_profiling().nps is None

"""Properties of whole decisions over arbitrary customers, channels and histories."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.recommend.factories import NOW, customer, default_config, run_decide
from touchpoint_recommend.domain.config import SALES_KINDS
from touchpoint_recommend.domain.policy import ContactRecord

CONFIG = default_config()
OFFER_IDS = [offer.id for offer in CONFIG.catalogue]

records = st.lists(
    st.builds(
        lambda offer_id, days, outcome: ContactRecord(
            offer_id=offer_id,
            presented_at=NOW - timedelta(days=days),
            outcome=outcome,
            outcome_at=None if outcome is None else NOW - timedelta(days=days),
        ),
        st.sampled_from(OFFER_IDS),
        st.floats(0, 40),
        st.sampled_from([None, "accepted", "rejected", "ignored"]),
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(
    member=st.booleans(),
    tier=st.sampled_from(["A", "B", "C", None]),
    lifecycle=st.sampled_from(
        ["prospect", "new_buyer", "active", "mature", "at_risk", "lost", "won_back", None]
    ),
    complaints=st.integers(0, 2),
    interests=st.dictionaries(
        st.sampled_from(["fitness", "kids", "outdoor", "home"]), st.floats(0, 5), max_size=3
    ),
    channel=st.sampled_from(["pos", "call_centre", "web"]),
    history=records,
    limit=st.integers(1, 6),
    seed=st.integers(0, 1000),
)
def test_decision_invariants(
    member, tier, lifecycle, complaints, interests, channel, history, limit, seed
) -> None:
    """Whatever the input: within limit, no repeats, right channel, policy respected."""
    snapshot = customer(
        member=member, tier=tier, lifecycle=lifecycle, complaints=complaints, interests=interests
    )
    decision = run_decide(snapshot, channel=channel, records=history, limit=limit, seed=seed)
    ids = [offer.offer_id for offer in decision.offers]
    assert len(ids) <= limit
    assert len(set(ids)) == len(ids)
    assert [offer.rank for offer in decision.offers] == list(range(1, len(ids) + 1))
    suppressed = {item.offer_id for item in decision.suppressed}
    assert not suppressed & set(ids)
    for offer in decision.offers:
        entry = CONFIG.offer(offer.offer_id)
        assert channel in entry.channels
        if complaints:
            assert entry.kind not in SALES_KINDS
        if member:
            assert entry.kind != "membership"
        rejected_recently = any(
            r.offer_id == offer.offer_id
            and r.outcome == "rejected"
            and r.outcome_at is not None
            and NOW - r.outcome_at < timedelta(days=14)
            for r in history
        )
        assert not rejected_recently
    pinned = [offer.pinned is not None for offer in decision.offers]
    assert pinned == sorted(pinned, reverse=True), "pinned offers come first"

"""The default config sends win-back offers ("We miss you") to slipping buyers only (brief
section 5: churn is about buyers; someone who never bought is a prospect, never lost)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.recommend.factories import customer, default_config, run_decide
from touchpoint_recommend.domain.snapshot import CustomerSnapshot, unknown_customer

CONFIG = default_config()
WIN_BACK = {offer.id for offer in CONFIG.catalogue if offer.kind == "win-back"}
NOT_SLIPPING = ["prospect", "new_buyer", "active", "mature", "won_back", None]


def win_back_offers(snapshot: CustomerSnapshot, channel: str, seed: int, limit: int) -> set[str]:
    """The win-back offers of one decision."""
    decision = run_decide(snapshot, channel=channel, seed=seed, limit=limit)
    return {offer.offer_id for offer in decision.offers} & WIN_BACK


@settings(max_examples=200, deadline=None)
@given(
    lifecycle=st.sampled_from(NOT_SLIPPING),
    member=st.booleans(),
    tier=st.sampled_from(["A", "B", "C", None]),
    recency_days=st.one_of(st.none(), st.integers(0, 400)),
    interests=st.dictionaries(
        st.sampled_from(["fitness", "kids", "outdoor", "home"]), st.floats(0, 5), max_size=3
    ),
    channel=st.sampled_from(["pos", "call_centre", "web"]),
    limit=st.integers(1, 6),
    seed=st.integers(0, 1000),
)
def test_the_default_config_never_sends_a_win_back_offer_to_a_non_buyer(
    lifecycle, member, tier, recency_days, interests, channel, limit, seed
) -> None:
    """Property: a prospect (never bought), or any buyer not at_risk/lost, never gets a
    win-back offer, whatever the tier, channel, interests or limit."""
    snapshot = customer(
        lifecycle=lifecycle,
        member=member,
        tier=tier,
        recency_days=recency_days,
        interests=interests,
    )
    assert not win_back_offers(snapshot, channel, seed, limit)


@settings(max_examples=50, deadline=None)
@given(channel=st.sampled_from(["pos", "call_centre", "web"]), seed=st.integers(0, 1000))
def test_an_unknown_customer_never_gets_a_win_back_offer(channel: str, seed: int) -> None:
    """Someone never seen before is not slipping either."""
    assert not win_back_offers(unknown_customer("new"), channel, seed, 6)


def test_a_slipping_buyer_is_offered_we_miss_you() -> None:
    """A buyer at risk (last purchase 74 days ago) lands in `slipping` and is offered the
    win-back "We miss you - 20% off"; a lost one too."""
    for lifecycle in ("at_risk", "lost"):
        snapshot = customer(lifecycle=lifecycle, tier="B", recency_days=74)
        decision = run_decide(snapshot, channel="pos", limit=3)
        assert decision.segment == "slipping"
        assert "we-miss-you" in {offer.offer_id for offer in decision.offers}


def test_a_prospect_is_invited_not_won_back() -> None:
    """A known contact who never bought falls in `prospect` (first order, joining), the
    texts' potential customer to nurture."""
    snapshot = customer(lifecycle="prospect", member=False, tier="C", recency_days=None)
    decision = run_decide(snapshot, channel="web", limit=3)
    assert decision.segment == "prospect"
    assert not {offer.offer_id for offer in decision.offers} & WIN_BACK

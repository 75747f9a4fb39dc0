"""Segmentation: ordered rules over the live view, first match wins, everyone lands."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.unit.recommend.factories import customer, default_config
from touchpoint_recommend.domain.rules import DecisionContext, Rule
from touchpoint_recommend.domain.segmentation import assign_segment
from touchpoint_recommend.domain.snapshot import CustomerSnapshot, unknown_customer

CONFIG = default_config()


def _segment(snapshot: CustomerSnapshot, channel: str = "pos") -> str:
    return assign_segment(CONFIG, DecisionContext(customer=snapshot, channel=channel)).id


def test_open_complaint_wins_over_everything() -> None:
    """A tier-A at-risk customer with a complaint is first a complaint case."""
    assert _segment(customer(tier="A", lifecycle="at_risk", complaints=1)) == "complaint-open"


def test_unknown_customer_is_a_newcomer() -> None:
    """Someone the profile never saw gets the newcomer segment, not an error."""
    assert _segment(unknown_customer()) == "newcomer"


def test_tier_and_lifecycle_make_vip_at_risk() -> None:
    """Both rules of a segment must hold."""
    assert _segment(customer(tier="A", lifecycle="at_risk")) == "vip-at-risk"
    assert _segment(customer(tier="B", lifecycle="at_risk")) == "slipping"
    assert _segment(customer(tier="A", lifecycle="active")) == "vip"


def test_top_interest_picks_lifestyle_or_family() -> None:
    """The strongest interest decides between lifestyle and family."""
    assert _segment(customer(interests={"fitness": 2.0, "kids": 1.0})) == "active-lifestyle"
    assert _segment(customer(interests={"fitness": 1.0, "kids": 3.0})) == "family"
    assert _segment(customer()) == "everyone"


def test_missing_value_fails_comparisons_but_not_ne() -> None:
    """No purchase yet: 'recency_days lt 30' is false, 'recency_days ne 5' is true."""
    context = DecisionContext(customer=customer(recency_days=None), channel="pos")
    assert not Rule(field="rfm.recency_days", op="lt", value=30).holds(context)
    assert Rule(field="rfm.recency_days", op="ne", value=5).holds(context)


def test_interest_and_recent_purchase_fields() -> None:
    """Pattern fields read a category's score or purchase count (0 when absent)."""
    snapshot = customer(interests={"outdoor": 1.5}, recent_purchases={"outdoor": 2})
    context = DecisionContext(customer=snapshot, channel="web")
    assert Rule(field="interest.outdoor", op="gte", value=1.5).holds(context)
    assert Rule(field="recent_purchases.outdoor", op="eq", value=2).holds(context)
    assert Rule(field="interest.kids", op="eq", value=0).holds(context)
    assert Rule(field="channel", op="in", value=["web", "app"]).holds(context)


@given(
    known=st.booleans(),
    member=st.booleans(),
    tier=st.sampled_from(["A", "B", "C", None]),
    lifecycle=st.sampled_from(
        ["prospect", "new_buyer", "active", "mature", "at_risk", "lost", "won_back", None]
    ),
    complaints=st.integers(0, 3),
    interests=st.dictionaries(
        st.sampled_from(["fitness", "kids", "outdoor", "home"]), st.floats(0, 10), max_size=3
    ),
)
def test_every_customer_gets_exactly_the_first_matching_segment(
    known: bool,
    member: bool,
    tier: str | None,
    lifecycle: str | None,
    complaints: int,
    interests: dict[str, float],
) -> None:
    """Whatever the view says, a segment is found and no earlier segment also matched."""
    snapshot = customer(
        member=member, tier=tier, lifecycle=lifecycle, interests=interests, complaints=complaints
    ).model_copy(update={"known": known})
    context = DecisionContext(customer=snapshot, channel="pos")
    chosen = assign_segment(CONFIG, context)
    ids = [segment.id for segment in CONFIG.segments]
    for earlier in CONFIG.segments[: ids.index(chosen.id)]:
        assert not all(rule.holds(context) for rule in earlier.when)
    assert all(rule.holds(context) for rule in chosen.when)

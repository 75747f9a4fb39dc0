"""Eligibility: channel, validity dates, membership, budget and per-offer rules."""

from __future__ import annotations

from datetime import date

from tests.unit.recommend.factories import customer, default_config
from touchpoint_recommend.domain.eligibility import get_ineligibility
from touchpoint_recommend.domain.rules import DecisionContext

CONFIG = default_config()


def _why(
    offer_id: str,
    *,
    channel: str = "pos",
    today: date = date(2026, 11, 23),
    used: int = 0,
    **customer_fields: object,
) -> str | None:
    snapshot = customer(**customer_fields)  # type: ignore[arg-type]
    return get_ineligibility(
        CONFIG.offer(offer_id),
        context=DecisionContext(customer=snapshot, channel=channel),
        today=today,
        presented_so_far=used,
    )


def test_channel_must_be_listed() -> None:
    """The web account offer is not made at the till."""
    assert _why("web-account", channel="pos") == "not offered on channel pos"
    assert _why("web-account", channel="web", member=False) is None


def test_members_are_not_offered_membership() -> None:
    """Inviting a member to join would be a blunder."""
    assert _why("join-today", member=True) == "already a member"
    assert _why("join-today", member=False) is None


def test_rules_apply() -> None:
    """The personal shopper (a win-back offer) is for slipping buyers of tiers A and B only."""
    assert _why("personal-shopper", tier="C", lifecycle="at_risk") == "eligibility rules not met"
    assert _why("personal-shopper", tier="A", lifecycle="at_risk") is None
    assert _why("personal-shopper", tier="A", lifecycle="prospect") == "eligibility rules not met"


def test_budget_caps_presentations_overall() -> None:
    """Once the budget of presentations is used, the offer is out."""
    assert _why("personal-shopper", used=499, tier="A", lifecycle="at_risk") is None
    assert (
        _why("personal-shopper", used=500, tier="A", lifecycle="at_risk")
        == "budget of 500 presentations used up"
    )


def test_validity_dates() -> None:
    """An offer outside its dates is out, inclusive bounds inside."""
    offer = CONFIG.offer("discount-10").model_copy(
        update={"valid_from": date(2026, 12, 1), "valid_until": date(2026, 12, 31)}
    )
    context = DecisionContext(customer=customer(), channel="pos")
    assert (
        get_ineligibility(offer, context=context, today=date(2026, 11, 30), presented_so_far=0)
        == "not valid on 2026-11-30"
    )
    assert (
        get_ineligibility(offer, context=context, today=date(2026, 12, 31), presented_so_far=0)
        is None
    )

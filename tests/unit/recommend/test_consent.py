"""Consent (PIPL) in the decision: marketing needs consent per channel, service recovery never,
and without profiling consent the decision does not use the profile."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.recommend.factories import customer, default_config, run_decide
from touchpoint_recommend.domain.config import ConsentRules
from touchpoint_recommend.domain.eligibility import (
    allows_profiling,
    get_consent_refusal,
    split_by_consent,
)
from touchpoint_recommend.domain.snapshot import ConsentItem, opted_in, unknown_customer

CONFIG = default_config()
RULES = CONFIG.consent
CHANNELS = ("pos", "call_centre", "web")


def _statement(status: str, channel: str, purpose: str = "marketing") -> ConsentItem:
    return ConsentItem.model_validate({"purpose": purpose, "channel": channel, "status": status})


def test_the_default_is_opt_in_for_marketing_and_recovery_is_exempt() -> None:
    """Shipped defaults: marketing needs a grant, profiling does not, service recovery is exempt."""
    assert ConsentRules() == RULES
    assert RULES.marketing_without_statement == "deny"
    assert RULES.profiling_without_statement == "allow"
    assert RULES.exempt_kinds == ["service-recovery"]


def test_withdrawn_on_pos_refuses_marketing_on_pos_only() -> None:
    """A withdrawal on the till removes a discount there; a grant on the web keeps it there."""
    someone = customer(consents=(_statement("withdrawn", "pos"), _statement("granted", "web")))
    discount = CONFIG.offer("discount-10")
    assert (
        get_consent_refusal(discount, rules=RULES, customer=someone, channel="pos")
        == "marketing consent withdrawn on channel pos"
    )
    assert get_consent_refusal(discount, rules=RULES, customer=someone, channel="web") is None
    assert (
        get_consent_refusal(discount, rules=RULES, customer=someone, channel="call_centre")
        == "no marketing consent on channel call_centre"
    )


def test_no_statement_follows_the_configured_default() -> None:
    """marketing_without_statement=allow lets marketing through where nothing was stated."""
    silent = customer(consents=())
    discount = CONFIG.offer("discount-10")
    allow = ConsentRules(marketing_without_statement="allow")
    assert get_consent_refusal(discount, rules=allow, customer=silent, channel="pos") is None
    assert get_consent_refusal(discount, rules=RULES, customer=silent, channel="pos") is not None


def test_an_anonymous_customer_needs_no_consent() -> None:
    """Nobody identified: no personal data is processed, the channel's offers stay."""
    anonymous = unknown_customer("c-new")
    allowed, removed = split_by_consent(
        list(CONFIG.catalogue), rules=RULES, customer=anonymous, channel="pos"
    )
    assert removed == []
    assert len(allowed) == len(CONFIG.catalogue)
    assert allows_profiling(RULES, anonymous, "pos")


def test_service_recovery_is_offered_whatever_the_consent() -> None:
    """A customer with an open complaint who withdrew marketing still gets service recovery,
    and the answer lists the offers consent removed."""
    upset = customer(complaints=1, consents=(_statement("withdrawn", "pos"),))
    decision = run_decide(upset, channel="pos", limit=10)
    kinds = {offer.kind for offer in decision.offers}
    assert kinds == {"service-recovery"}
    removed = {item.offer_id: item.reason for item in decision.consent_removed}
    assert removed
    assert set(removed.values()) == {"marketing consent withdrawn on channel pos"}
    assert all(CONFIG.offer(offer_id).kind != "service-recovery" for offer_id in removed)


def test_withdrawn_profiling_gives_the_fixed_priority_without_profile_figures() -> None:
    """Without profiling consent the decision is not personalised: no interests quoted, the
    strategy's fixed order, and the same answer for any seed."""
    consents = (*opted_in("pos")[:1], _statement("withdrawn", "pos", "profiling"))
    private = customer(interests={"fitness": 3.0}, consents=consents)
    first = run_decide(private, channel="pos", seed=1)
    assert not first.personalised
    assert [o.offer_id for o in run_decide(private, channel="pos", seed=99).offers] == [
        o.offer_id for o in first.offers
    ]
    assert all(offer.terms.context_weight == 1.0 for offer in first.offers)
    assert allows_profiling(RULES, customer(), "pos")


@settings(max_examples=150, deadline=None)
@given(
    statements=st.lists(
        st.tuples(st.sampled_from(["granted", "withdrawn"]), st.sampled_from(CHANNELS)),
        max_size=3,
        unique_by=lambda item: item[1],
    ),
    channel=st.sampled_from(CHANNELS),
    complaints=st.integers(0, 1),
    member=st.booleans(),
)
def test_every_offer_on_a_channel_is_within_consent(
    statements: list[tuple[str, str]], channel: str, complaints: int, member: bool
) -> None:
    """Whatever the statements, every offered non-recovery offer has a grant on the channel,
    and nothing removed by consent is offered."""
    consents = (
        *(_statement(status, where) for status, where in statements),
        *(item for item in opted_in(*CHANNELS) if item.purpose == "profiling"),
    )
    someone = customer(consents=consents, complaints=complaints, member=member)
    decision = run_decide(someone, channel=channel, limit=10)
    granted = ("granted", channel) in statements
    for offer in decision.offers:
        assert offer.kind == "service-recovery" or granted
    removed = {item.offer_id for item in decision.consent_removed}
    assert removed.isdisjoint(offer.offer_id for offer in decision.offers)
    if granted:
        assert not removed

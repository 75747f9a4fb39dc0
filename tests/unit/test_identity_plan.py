"""`plan_resolutions`: many identifier-only events resolved by `resolve_customer`'s rules."""

from __future__ import annotations

from touchpoint_common.identity.store import (
    Identifier,
    IdentityCache,
    PassCache,
    ResolvedCustomer,
    plan_resolutions,
)

PHONE = Identifier(kind="phone", value="+8613800000000", digest="p1")
LOYALTY = Identifier(kind="loyalty_id", value="L-1", digest="l1")
ANON = Identifier(kind="anonymous_id", value="web-1", digest="a1")


def known(*pairs: tuple[str, tuple[Identifier, ...]]) -> PassCache:
    """A pass cache where each customer owns the given identifiers."""
    cache = PassCache(IdentityCache())
    for customer_id, identifiers in pairs:
        owned = tuple(ident.key for ident in identifiers)
        cache.remember(ResolvedCustomer(customer_id, b"k" * 32, owned=owned))
    return cache


def test_known_owners_decide_by_kind_priority_without_writes() -> None:
    """An event whose identifiers belong to two customers lands on the loyalty id's owner."""
    cache = known(("c-phone", (PHONE,)), ("c-loyal", (LOYALTY,)))
    plan = plan_resolutions([(PHONE, LOYALTY)], cache=cache)
    assert plan is not None
    assert [r.customer_id for r in plan.resolved] == ["c-loyal"]
    assert not plan.linked
    assert not plan.minted
    assert not plan.to_lock


def test_a_new_identifier_seen_twice_mints_one_customer() -> None:
    """Two events of one new web session: the first mints, the second lands on it."""
    plan = plan_resolutions([(ANON,), (ANON,)], cache=known())
    assert plan is not None
    first, second = plan.resolved
    assert first.created
    assert not second.created
    assert first.customer_id == second.customer_id
    assert list(plan.minted) == [first.customer_id]
    assert plan.linked == [(ANON, first.customer_id)]


def test_an_unknown_identifier_joins_the_known_customer_which_is_locked() -> None:
    """A known phone with a new anonymous id: the id is linked to the phone's customer."""
    plan = plan_resolutions([(PHONE, ANON)], cache=known(("c-phone", (PHONE,))))
    assert plan is not None
    assert plan.resolved[0].customer_id == "c-phone"
    assert set(plan.resolved[0].owned) == {PHONE.key, ANON.key}
    assert plan.linked == [(ANON, "c-phone")]
    assert plan.to_lock == {"c-phone"}


def test_an_owner_without_a_known_data_key_gives_up() -> None:
    """When the chosen customer's key is not known the caller resolves one by one."""
    cache = known(("c-phone", (PHONE,)))
    cache.keys.clear()
    assert plan_resolutions([(PHONE,)], cache=cache) is None

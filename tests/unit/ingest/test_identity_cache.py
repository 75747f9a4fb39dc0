"""The in-process identity cache: what it remembers and what merges and erasure evict."""

from __future__ import annotations

from touchpoint_common.identity.store import IdentityCache, ResolvedCustomer

KEY = b"k" * 32


def test_remembers_owned_digests_and_keys() -> None:
    """After a resolution, its digests point at the customer and its key is at hand."""
    cache = IdentityCache(maxsize=100, ttl_s=60)
    cache.remember(ResolvedCustomer("c1", KEY, owned=(("phone", "a"), ("email", "b"))))
    assert cache.owners[("phone", "a")] == "c1"
    assert cache.owners[("email", "b")] == "c1"
    assert cache.keys["c1"] == KEY


def test_forget_evicts_only_that_customers_digests() -> None:
    """Erasure evicts the customer's digests and key; other customers stay cached."""
    cache = IdentityCache(maxsize=100, ttl_s=60)
    cache.remember(ResolvedCustomer("c1", KEY, owned=(("phone", "a"),)))
    cache.remember(ResolvedCustomer("c1", KEY, owned=(("email", "b"),)))
    cache.remember(ResolvedCustomer("c2", KEY, owned=(("phone", "z"),)))
    cache.forget_customer("c1")
    assert ("phone", "a") not in cache.owners
    assert ("email", "b") not in cache.owners
    assert "c1" not in cache.keys
    assert cache.owners[("phone", "z")] == "c2"


def test_a_merge_moves_digests_to_the_winner() -> None:
    """After identify merged c-anon into c-member, the anonymous digest leads to the member."""
    cache = IdentityCache(maxsize=100, ttl_s=60)
    cache.remember(ResolvedCustomer("c-anon", KEY, owned=(("anonymous_id", "w"),)))
    cache.remember(
        ResolvedCustomer(
            "c-member",
            KEY,
            merged_customer_ids=("c-anon",),
            owned=(("anonymous_id", "w"), ("loyalty_id", "l")),
        )
    )
    assert cache.owners[("anonymous_id", "w")] == "c-member"
    assert "c-anon" not in cache.keys
    cache.forget_customer("c-anon")  # a stale eviction must not drop the winner's entries
    assert cache.owners[("anonymous_id", "w")] == "c-member"

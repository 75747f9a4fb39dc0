"""Unit tests for the one merge-following rule (touchpoint_common.identity.merges)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from touchpoint_common.identity.merges import (
    MAX_MERGE_HOPS,
    MergeChainBroken,
    follow_merges,
    follow_merges_async,
)


def chain_of(length: int) -> dict[str, str]:
    """Pointers c0 -> c1 -> ... -> c<length>: `length` merges from c0 to the survivor."""
    return {f"c{index}": f"c{index + 1}" for index in range(length)}


def test_unmerged_id_is_its_own_survivor() -> None:
    """An id with no pointer (live, erased or unknown) is where the chase ends."""
    nowhere: dict[str, str] = {}
    assert follow_merges("a", nowhere.get) == "a"


@given(st.integers(min_value=0, max_value=MAX_MERGE_HOPS))
def test_chains_up_to_the_hop_limit_reach_the_survivor(length: int) -> None:
    """Any chain of at most MAX_MERGE_HOPS pointers ends at its last id."""
    assert follow_merges("c0", chain_of(length).get) == f"c{length}"


def test_a_chain_past_the_hop_limit_is_refused() -> None:
    """One pointer more than the limit raises MergeChainBroken instead of chasing on."""
    with pytest.raises(MergeChainBroken, match="more than"):
        follow_merges("c0", chain_of(MAX_MERGE_HOPS + 1).get)
    assert follow_merges("c0", chain_of(3).get, max_hops=3) == "c3"
    with pytest.raises(MergeChainBroken):
        follow_merges("c0", chain_of(3).get, max_hops=2)


@pytest.mark.parametrize(
    "pointers", [{"a": "a"}, {"a": "b", "b": "a"}, {"a": "b", "b": "c", "c": "b"}]
)
def test_a_cycle_is_refused_at_once(pointers: dict[str, str]) -> None:
    """A loop (also onto itself) raises MergeChainBroken naming the loop, within the hop limit."""
    with pytest.raises(MergeChainBroken, match="cycle"):
        follow_merges("a", pointers.get, max_hops=100)


def test_each_id_is_read_once_in_chain_order() -> None:
    """The pointer read is called once per id on the way, starting id first."""
    reads: list[str] = []

    def merged_into(customer_id: str) -> str | None:
        reads.append(customer_id)
        return chain_of(2).get(customer_id)

    assert follow_merges("c0", merged_into) == "c2"
    assert reads == ["c0", "c1", "c2"]


@given(st.dictionaries(st.sampled_from("abcdefg"), st.sampled_from("abcdefg")))
def test_async_variant_agrees_with_the_sync_one(pointers: dict[str, str]) -> None:
    """Awaiting the pointer read changes nothing: same survivor or the same refusal."""

    async def merged_into(customer_id: str) -> str | None:
        return pointers.get(customer_id)

    try:
        expected: str | type[MergeChainBroken] = follow_merges("a", pointers.get)
    except MergeChainBroken:
        expected = MergeChainBroken
    try:
        got: str | type[MergeChainBroken] = asyncio.run(follow_merges_async("a", merged_into))
    except MergeChainBroken:
        got = MergeChainBroken
    assert got == expected

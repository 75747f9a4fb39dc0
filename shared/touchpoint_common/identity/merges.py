"""Following merge pointers: the one rule for how a merged customer id is chased to the survivor.

Pure: the caller passes how to read one pointer (the identity tables, the profile projection,
a batch's loaded states), so every chase stops on the same cycle and hop rules.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

MAX_MERGE_HOPS = 5
"""Most merge pointers followed from one id (merges re-point losers, so chains stay short)."""

MergedInto = Callable[[str], str | None]
"""The id a customer was merged into, None when it was not (live, erased or unknown)."""
AsyncMergedInto = Callable[[str], Awaitable[str | None]]
"""MergedInto read from a database."""


class MergeChainBroken(LookupError):
    """A merge chain that loops back on itself or is longer than its hop limit (corrupt data)."""


class MergeChain:
    """The ids visited so far from a starting id; `step` enforces the cycle and hop rules."""

    def __init__(self, customer_id: str, *, max_hops: int = MAX_MERGE_HOPS) -> None:
        self.path = [customer_id]
        self.max_hops = max_hops

    @property
    def current(self) -> str:
        """The id reached so far."""
        return self.path[-1]

    def step(self, target: str) -> None:
        """Move to the id the current one was merged into; MergeChainBroken on a cycle or limit."""
        if target in self.path:
            raise MergeChainBroken(f"merge cycle: {' -> '.join([*self.path, target])}")
        if len(self.path) > self.max_hops:
            raise MergeChainBroken(f"more than {self.max_hops} merge hops from {self.path[0]}")
        self.path.append(target)


def follow_merges(
    customer_id: str, merged_into: MergedInto, *, max_hops: int = MAX_MERGE_HOPS
) -> str:
    """The id at the end of customer_id's merge chain (itself when never merged)."""
    chain = MergeChain(customer_id, max_hops=max_hops)
    while (target := merged_into(chain.current)) is not None:
        chain.step(target)
    return chain.current


async def follow_merges_async(
    customer_id: str, merged_into: AsyncMergedInto, *, max_hops: int = MAX_MERGE_HOPS
) -> str:
    """follow_merges with a pointer read that awaits (a database look-up per hop)."""
    chain = MergeChain(customer_id, max_hops=max_hops)
    while (target := await merged_into(chain.current)) is not None:
        chain.step(target)
    return chain.current

"""The consumer's batch shell (apply_batch) against an in-memory StateStore (no I/O)."""

from __future__ import annotations

from tests.unit.profile.factories import NOW, event, purchase
from touchpoint_profile.consumer.batch import apply_batch
from touchpoint_profile.fold.evaluate import get_rfm
from touchpoint_profile.fold.rules import FoldRules
from touchpoint_profile.projection.memory import MemoryStates

RULES = FoldRules()


def _store() -> MemoryStates:
    return MemoryStates()


async def _no_erase(customer_id: str) -> list[str]:
    return []


async def test_one_lock_statement_for_the_whole_batch() -> None:
    """All rows of a batch are locked in one call, new customers included (no per-row reads)."""
    store = _store()
    events = [purchase(days_ago=1, customer_id=f"c{i}") for i in range(50)]
    await apply_batch(store=store, events=events, now=NOW, rules=RULES, erase=_no_erase)
    assert len(store.locked) == 1
    assert len(store.locked[0]) == 50
    assert len(store.documents) == 50


async def test_duplicates_across_batches_are_counted_as_duplicates() -> None:
    """A redelivered event in a later batch is skipped and reported."""
    store = _store()
    first = purchase(days_ago=1)
    await apply_batch(store=store, events=[first], now=NOW, rules=RULES, erase=_no_erase)
    outcome = await apply_batch(
        store=store, events=[first, purchase(days_ago=2)], now=NOW, rules=RULES, erase=_no_erase
    )
    assert outcome.duplicates == 1
    assert outcome.folded == {"purchase": 1}
    state = await store.get_state("c-1")
    assert state is not None
    assert get_rfm(state, NOW).frequency == 2


async def test_erase_tombstones_every_erased_id_and_ignores_later_events() -> None:
    """erase calls the identity eraser and tombstones what it returns; later events are ignored."""
    store = _store()
    erased: list[str] = []

    async def erase(customer_id: str) -> list[str]:
        erased.append(customer_id)
        return [customer_id, "merged-1"]

    events = [purchase(days_ago=2), event("erase", {}, days_ago=1), purchase(days_ago=0)]
    outcome = await apply_batch(store=store, events=events, now=NOW, rules=RULES, erase=erase)
    assert erased == ["c-1"]
    assert outcome.erased == ["c-1", "merged-1"]
    assert outcome.ignored_erased == 1
    for customer_id in ("c-1", "merged-1"):
        state = await store.get_state(customer_id)
        assert state is not None
        assert state.is_erased
        assert state.timeline == []


async def test_identify_merges_once_and_redirects_later_events() -> None:
    """The merged customer's figures move to the survivor; its later events follow them."""
    store = _store()
    await apply_batch(
        store=store,
        events=[purchase(days_ago=3, customer_id="a"), purchase(days_ago=4, customer_id="b")],
        now=NOW,
        rules=RULES,
        erase=_no_erase,
    )
    identify = event(
        "identify", {"linked": [], "merged_customer_ids": ["b", "never-seen"]}, customer_id="a"
    )
    outcome = await apply_batch(
        store=store,
        events=[identify, identify, purchase(days_ago=0, customer_id="b")],
        now=NOW,
        rules=RULES,
        erase=_no_erase,
    )
    assert outcome.merged == ["b", "never-seen"]
    assert outcome.duplicates == 1
    survivor = await store.get_state("a")
    pointer = await store.get_state("b")
    assert survivor is not None
    assert pointer is not None
    assert get_rfm(survivor, NOW).frequency == 3
    assert pointer.merged_into == "a"
    assert sum(day.purchases for day in pointer.days.values()) == 1, (
        "b keeps its state as merged (an unmerge needs it); its later purchase went to a"
    )
    unseen = await store.get_state("never-seen")
    assert unseen is not None
    assert unseen.merged_into == "a"


async def test_pointer_targets_are_locked_in_a_second_statement() -> None:
    """An event for a merged customer also locks its survivor (one more statement), lands there."""
    store = _store()
    identify = event("identify", {"linked": [], "merged_customer_ids": ["b"]}, customer_id="a")
    await apply_batch(store=store, events=[identify], now=NOW, rules=RULES, erase=_no_erase)
    store.locked.clear()
    await apply_batch(
        store=store,
        events=[purchase(days_ago=1, customer_id="b")],
        now=NOW,
        rules=RULES,
        erase=_no_erase,
    )
    assert store.locked == [["b"], ["a"]]
    survivor = await store.get_state("a")
    assert survivor is not None
    assert get_rfm(survivor, NOW).frequency == 1

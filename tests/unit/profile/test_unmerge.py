"""unmerge in the fold: a merge followed by its unmerge gives both customers their own state."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.profile.factories import NOW, event, purchase
from touchpoint_profile.fold.fold import fold_batch
from touchpoint_profile.fold.state import CustomerState
from touchpoint_profile.fold.unmerge import log_sub

AMOUNTS = st.lists(st.sampled_from(["10.00", "99.50", "120.00"]), min_size=1, max_size=5)


def _merge_then_unmerge(
    a_amounts: list[str], b_amounts: list[str]
) -> tuple[dict[str, CustomerState], dict[str, CustomerState]]:
    """States of a and b before the merge, and after merge + unmerge."""
    own = [purchase(x, days_ago=i + 1, customer_id="a") for i, x in enumerate(a_amounts)]
    own += [
        purchase(x, category="tea", days_ago=i + 2, customer_id="b")
        for i, x in enumerate(b_amounts)
    ]
    before = fold_batch({"a": None, "b": None}, own, NOW).states
    login = uuid.uuid4()
    identify = event(
        "identify", {"linked": [], "merged_customer_ids": ["b"]}, customer_id="a", event_id=login
    )
    merged = fold_batch(before, [identify], NOW).states
    assert merged["b"].merged_into == "a"
    unmerge = event("unmerge", {"customer_id": "b"}, customer_id="a")
    after = fold_batch({**before, **merged}, [unmerge, unmerge], NOW)
    assert after.outcome.unmerged == ["b"], "the redelivered unmerge finds nothing to undo"
    # a's expected state: its own, plus the identify event itself (which merged nothing)
    alone = event(
        "identify", {"linked": [], "merged_customer_ids": []}, customer_id="a", event_id=login
    )
    before = {**before, "a": fold_batch(before, [alone], NOW).states["a"]}
    return before, {**before, **merged, **after.states}


@settings(max_examples=40, deadline=None)
@given(AMOUNTS, AMOUNTS)
def test_unmerge_restores_both_customers_figures(
    a_amounts: list[str], b_amounts: list[str]
) -> None:
    """Purchase counts and sums, categories, timelines, dedup sets and lifetime figures of both
    customers come back as they were before the merge."""
    before, after = _merge_then_unmerge(a_amounts, b_amounts)
    for customer_id in ("a", "b"):
        old, new = before[customer_id], after[customer_id]
        assert new.merged_into is None
        assert {d: b.model_dump() for d, b in new.days.items()} == {
            d: b.model_dump() for d, b in old.days.items()
        }
        assert [e.event_id for e in new.timeline] == [e.event_id for e in old.timeline]
        assert new.applied == old.applied
        assert set(new.interests) == set(old.interests)
        assert new.last_purchase_at == old.last_purchase_at
        lifetime = ("purchases", "spend", "profit", "money_ids")
        assert [getattr(new.value, n) for n in lifetime] == [
            getattr(old.value, n) for n in lifetime
        ]
    assert after["a"].merged_from == []


def test_log_sub_undoes_log_add_and_bottoms_out_at_none() -> None:
    """log(exp(a) - exp(b)): exact enough to undo an addition; nothing left is None."""
    assert log_sub(None, 1.0) is None
    assert log_sub(2.0, None) == 2.0
    assert log_sub(1.0, 1.0) is None
    result = log_sub(2.0, 1.0)
    assert result is not None
    assert abs(result - 1.541_324_854_612_918) < 1e-9

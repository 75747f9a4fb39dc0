"""The no-archaeology section's comparison of views (pure, no servers)."""

from __future__ import annotations

from bench.archaeology import get_differing_fields
from tests.unit.profile.factories import CUSTOMER, NOW, purchase
from touchpoint_profile.fold.evaluate import evaluate
from touchpoint_profile.fold.events import ParsedEvent
from touchpoint_profile.fold.fold import fold_many
from touchpoint_profile.fold.state import new_state
from touchpoint_profile.read import FoldRules, ProfileFigures

RULES = FoldRules()


def _view(events: list[ParsedEvent]) -> ProfileFigures:
    return evaluate(fold_many(new_state(CUSTOMER), events, NOW, RULES), NOW, RULES)


def test_equal_views_differ_in_nothing_and_http_identifiers_are_ignored() -> None:
    """The same events folded in one go and one at a time give no differing field, also
    against the HTTP JSON, whose masked identifiers the in-process views do not have."""
    events = [purchase("10.00", days_ago=2), purchase("20.00", days_ago=1)]
    view = _view(events)
    one_by_one = new_state(CUSTOMER)
    for parsed in events:
        one_by_one = fold_many(one_by_one, [parsed], NOW, RULES)
    served = {**view.model_dump(mode="json"), "identifiers": [{"kind": "phone", "masked": "x"}]}
    assert get_differing_fields(view, evaluate(one_by_one, NOW, RULES), served) == []


def test_other_spend_and_a_missing_view_are_named() -> None:
    """A different purchase shows in rfm / lifetime; an absent answer as <missing>."""
    first = purchase("10.00", days_ago=2)
    differing = get_differing_fields(
        _view([first, purchase("20.00", days_ago=1)]),
        _view([first, purchase("25.00", days_ago=1)]),
        None,
    )
    assert {"rfm", "lifetime", "<missing>"} <= set(differing)
    assert "customer_id" not in differing

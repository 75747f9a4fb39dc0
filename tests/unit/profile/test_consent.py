"""The fold of consent statements: the latest per purpose x channel wins, whatever the order."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.profile.factories import CUSTOMER, NOW, consent
from touchpoint_profile.fold.evaluate import evaluate
from touchpoint_profile.fold.events import ParsedEvent
from touchpoint_profile.fold.fold import fold_many
from touchpoint_profile.fold.merge import merge_states
from touchpoint_profile.fold.state import new_state
from touchpoint_profile.read import ConsentStanding

PURPOSES = ("marketing", "profiling")
COVERS = ("pos", "web", "sms")


def standings(history: list[ParsedEvent], customer_id: str = CUSTOMER) -> list[ConsentStanding]:
    """The consents the view shows after folding `history`."""
    return evaluate(fold_many(new_state(customer_id), history, NOW), NOW).consents


def test_the_view_shows_the_latest_statement_per_purpose_and_channel() -> None:
    """A later withdrawal replaces a grant on its own channel only; other channels keep theirs."""
    history = [
        consent("granted", covers="pos", days_ago=3),
        consent("granted", covers="web", days_ago=3),
        consent("withdrawn", covers="pos", days_ago=1),
        consent("granted", purpose="profiling", covers="pos", days_ago=2),
    ]
    shown = {(s.purpose, s.channel): s.status for s in standings(history)}
    assert shown == {
        ("marketing", "pos"): "withdrawn",
        ("marketing", "web"): "granted",
        ("profiling", "pos"): "granted",
    }


def test_a_late_arriving_older_statement_does_not_override_a_newer_one() -> None:
    """An older grant folded after a newer withdrawal leaves the withdrawal in force."""
    newer = consent("withdrawn", days_ago=1)
    older = consent("granted", days_ago=5)
    [standing] = standings([newer, older])
    assert (standing.status, standing.at) == ("withdrawn", NOW - timedelta(days=1))


def test_a_statement_appears_on_the_timeline_without_identifiers() -> None:
    """The timeline line names purpose, channel and status, nothing about the customer."""
    state = fold_many(new_state(CUSTOMER), [consent("withdrawn", covers="sms")], NOW)
    assert state.timeline[0].line == "POS consent marketing on SMS withdrawn"


def test_a_merge_keeps_the_latest_statement_of_either_customer() -> None:
    """Merging customers keeps, per purpose x channel, the newer of their two statements."""
    target = fold_many(new_state("a"), [consent("granted", days_ago=4, customer_id="a")], NOW)
    source = fold_many(new_state("b"), [consent("withdrawn", days_ago=2, customer_id="b")], NOW)
    merged = merge_states(target, source, NOW)
    assert [s.status for s in evaluate(merged, NOW).consents] == ["withdrawn"]


@st.composite
def statements(draw: st.DrawFn) -> ParsedEvent:
    """A consent statement at a random minute of the last 30 days (ties included)."""
    minutes = draw(st.integers(min_value=0, max_value=30))
    return consent(
        draw(st.sampled_from(["granted", "withdrawn"])),
        purpose=draw(st.sampled_from(PURPOSES)),
        covers=draw(st.sampled_from(COVERS)),
        at=NOW - timedelta(minutes=minutes),
    )


@settings(max_examples=200, deadline=None)
@given(history=st.lists(statements(), min_size=1, max_size=20), data=st.data())
def test_latest_statement_wins_in_any_order(history: list[ParsedEvent], data: Any) -> None:
    """Any arrival order gives, per purpose x channel, the statement with the greatest
    (occurred_at, event_id)."""
    shuffled = data.draw(st.permutations(history))
    expected: dict[tuple[str, str], str] = {}
    for parsed in sorted(history, key=lambda p: (p.event.occurred_at, p.event_id)):
        payload = parsed.event.payload
        expected[(payload["purpose"], payload["channel"])] = payload["status"]
    shown = {(s.purpose, s.channel): s.status for s in standings(shuffled)}
    assert shown == expected

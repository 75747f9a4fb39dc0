"""Complaints through their life, commitments and notes: fold and view (pure, no I/O)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from tests.unit.profile.factories import (
    NOW,
    call,
    commitment_fulfilled,
    complaint,
    complaint_step,
    event,
)
from touchpoint_profile.fold.care import get_closed_complaint_clocks
from touchpoint_profile.fold.evaluate import evaluate
from touchpoint_profile.fold.events import ParsedEvent
from touchpoint_profile.fold.fold import fold_many
from touchpoint_profile.fold.merge import merge_states
from touchpoint_profile.fold.rules import FoldRules, ResponseTimes
from touchpoint_profile.fold.state import dump_state_parts, new_state
from touchpoint_profile.fold.unmerge import split_states
from touchpoint_profile.settings import FoldRulesSettings

RULES = FoldRules()
HOUR = timedelta(hours=1)


def test_the_latest_step_sets_status_owner_and_escalation() -> None:
    """open -> assigned -> escalated -> remedy_offered, with owner and escalated_to kept."""
    opened = complaint("K", at=NOW - 10 * HOUR)
    steps = [
        opened,
        complaint_step("complaint_assigned", "K", owner="ann", at=NOW - 9 * HOUR),
        complaint_step("complaint_escalated", "K", escalated_to="lead", at=NOW - 8 * HOUR),
    ]
    state = fold_many(new_state("c-1"), steps, NOW, RULES)
    [shown] = evaluate(state, NOW, RULES).open_complaints
    assert (shown.status, shown.owner, shown.escalated_to) == ("escalated", "ann", "lead")
    assert shown.age_hours == 10
    remedy = complaint_step("complaint_remedy", "K", at=NOW - 7 * HOUR)
    state = fold_many(state, [remedy], NOW, RULES)
    assert evaluate(state, NOW, RULES).open_complaints[0].status == "remedy_offered"
    assert state.complaints["K"].remedy is not None
    assert state.complaints["K"].key_points is not None


def test_due_time_follows_the_severity_policy_and_overdue_come_first() -> None:
    """A high complaint is due 24 h after opening by default; a configured policy changes it;
    overdue complaints are listed before the others, then by due time."""
    old_high = complaint("OLD", at=NOW - 30 * HOUR)
    new_critical = event(
        "complaint",
        {"complaint_id": "NEW", "category": "c", "severity": "critical"},
        at=NOW - HOUR,
        channel="call_centre",
    )
    low = event(
        "complaint",
        {"complaint_id": "LOW", "category": "c", "severity": "low"},
        at=NOW - 2 * HOUR,
        channel="call_centre",
    )
    state = fold_many(new_state("c-1"), [new_critical, low, old_high], NOW, RULES)
    shown = evaluate(state, NOW, RULES).open_complaints
    assert [c.complaint_id for c in shown] == ["OLD", "NEW", "LOW"]
    assert [c.overdue for c in shown] == [True, False, False]
    assert shown[0].due_at == NOW - 6 * HOUR
    assert shown[1].due_at == NOW + 3 * HOUR
    assert shown[2].due_at == NOW - 2 * HOUR + 168 * HOUR
    strict = FoldRules(complaint_response_hours=ResponseTimes(critical=0.5))
    first = evaluate(state, NOW, strict).open_complaints
    assert [c.complaint_id for c in first if c.overdue] == ["OLD", "NEW"]


def test_follow_up_and_resolution_before_the_opening_end_right() -> None:
    """Resolved and followed up first, opened last: one closed complaint with its time to
    resolve and satisfaction, none open."""
    steps = [
        complaint_step("complaint_follow_up", "K", satisfaction=2, at=NOW - HOUR),
        complaint_step("complaint_resolved", "K", at=NOW - 3 * HOUR),
        complaint("K", at=NOW - 9 * HOUR),
    ]
    state = fold_many(new_state("c-1"), steps, NOW, RULES)
    view = evaluate(state, NOW, RULES)
    assert view.open_complaints == []
    [closed] = view.closed_complaints
    assert (closed.complaint_id, closed.hours_to_resolve, closed.satisfaction) == ("K", 6.0, 2)
    assert closed.category == "delivery"


def test_closed_complaints_are_newest_first_and_bounded() -> None:
    """At most closed_complaints_shown resolved complaints, newest resolution first."""
    rules = FoldRules(closed_complaints_shown=2)
    steps = [complaint_step("complaint_resolved", f"K{i}", at=NOW - i * HOUR) for i in range(4)]
    state = fold_many(new_state("c-1"), steps, NOW, rules)
    closed = evaluate(state, NOW, rules).closed_complaints
    assert [c.complaint_id for c in closed] == ["K0", "K1"]
    assert closed[0].hours_to_resolve is None


def test_commitments_open_expire_then_leave_and_fulfilled_ones_leave_at_once() -> None:
    """A commitment is open until due, expired for the grace period, then gone; a fulfilled
    one leaves the list; agent, store and channel are kept."""
    made = call(commitment_id="P1", due_at=NOW + HOUR, at=NOW - HOUR, store_id="7", channel="store")
    kept = call(commitment_id="P2", due_at=NOW + HOUR, at=NOW - HOUR)
    state = fold_many(new_state("c-1"), [made, kept, commitment_fulfilled("P2")], NOW, RULES)
    [shown] = evaluate(state, NOW, RULES).commitments
    assert (shown.commitment_id, shown.status, shown.store_id, shown.channel) == (
        "P1",
        "open",
        "7",
        "store",
    )
    later = NOW + 2 * HOUR
    assert evaluate(state, later, RULES).commitments[0].status == "expired"
    assert evaluate(state, NOW + timedelta(days=8), RULES).commitments == []


def test_fulfilled_before_made_never_shows() -> None:
    """The fulfilment arriving first still hides the commitment once it is made."""
    steps = [commitment_fulfilled("P1"), call(commitment_id="P1", at=NOW - HOUR)]
    state = fold_many(new_state("c-1"), steps, NOW, RULES)
    assert evaluate(state, NOW, RULES).commitments == []
    assert state.commitments["P1"].text is not None


def test_notes_are_kept_sealed_newest_first_and_capped() -> None:
    """Notes keep the sealed text and whose key sealed it; only the newest max_notes stay."""
    rules = FoldRules(max_notes=2)
    calls = [call(at=NOW - i * HOUR) for i in range(3)]
    state = fold_many(new_state("c-1"), calls, NOW, rules)
    assert [n.event_id for n in state.notes] == [calls[0].event_id, calls[1].event_id]
    assert state.notes[0].note.sealed == "v1:NOTE"
    assert state.notes[0].note.customer_id == "c-1"


def test_the_timeline_never_shows_free_text() -> None:
    """Lines name the step and ids, never the sealed texts."""
    steps = [
        complaint_step("complaint_escalated", "K", escalated_to="lead"),
        call(commitment_id="P1", at=NOW - HOUR),
    ]
    state = fold_many(new_state("c-1"), steps, NOW, RULES)
    lines = [entry.line for entry in state.timeline]
    assert "Call centre complaint K escalated to lead" in lines
    assert any("commitment P1 due" in line and "with a note" in line for line in lines)
    assert not any("v1:" in line for line in lines)


def test_merge_brings_commitments_and_notes_and_unmerge_takes_them_back() -> None:
    """A merged customer's commitments and notes show on the survivor and leave on unmerge;
    their texts still name the loser's key."""
    loser = fold_many(
        new_state("c-2"),
        [call(commitment_id="P9", customer_id="c-2", at=NOW - HOUR)],
        NOW,
        RULES,
    )
    survivor = fold_many(new_state("c-1"), [call(at=NOW - 2 * HOUR)], NOW, RULES)
    merged = merge_states(survivor, loser, NOW, RULES)
    assert set(merged.commitments) == {"P9"}
    assert len(merged.notes) == 2
    assert merged.commitments["P9"].text is not None
    assert merged.commitments["P9"].text.customer_id == "c-2"
    split = split_states(merged, loser)
    assert split.commitments == {}
    assert [n.note.customer_id for n in split.notes] == ["c-1"]


def test_the_response_time_policy_is_set_per_severity_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """TOUCHPOINT_PROFILE_RULES__COMPLAINT_RESPONSE_HOURS__CRITICAL changes that severity only;
    a zero or negative time is refused."""
    monkeypatch.setenv("TOUCHPOINT_PROFILE_RULES__COMPLAINT_RESPONSE_HOURS__CRITICAL", "2")
    policy = FoldRulesSettings().profile_rules.complaint_response_hours
    assert (policy.critical, policy.high, policy.medium, policy.low) == (2, 24, 72, 168)
    assert policy.hours("critical") == 2
    assert policy.hours(None) == 168
    monkeypatch.setenv("TOUCHPOINT_PROFILE_RULES__COMPLAINT_RESPONSE_HOURS__HIGH", "0")
    with pytest.raises(ValidationError, match="high"):
        FoldRulesSettings()


def test_care_records_stay_bounded_over_a_long_history() -> None:
    """Two years of daily calls with notes and commitments and a complaint a day leave at most
    max_notes notes, max_commitments live commitments (and max_closed_commitments others),
    max_complaints open complaints, and max_closed_complaints resolved ones of which only the
    newest closed_complaint_texts_kept are whole; the state stays small."""
    rules = FoldRules(max_notes=5, max_commitments=10, max_complaints=10)
    state = new_state("c-1")
    for day in range(730, -1, -1):
        now = NOW - timedelta(days=day)
        steps = [
            call(commitment_id=f"P{day}", due_at=now + timedelta(days=3), at=now),
            complaint(f"K{day}", at=now),
        ]
        if day % 2 == 0:
            steps.append(complaint_step("complaint_resolved", f"K{day}", at=now))
        state = fold_many(state, steps, now, rules)
    assert len(state.notes) == 5
    assert len(state.commitments) == 10  # all live: the oldest live ones were dropped by the cap
    opened = [c for c in state.complaints.values() if c.resolved_at is None]
    assert len(opened) == 10
    assert len(state.complaints) - len(opened) == rules.closed_complaint_texts_kept
    assert len(state.complaint_clocks) == (
        rules.max_closed_complaints - rules.closed_complaint_texts_kept
    )
    view = evaluate(state, NOW, rules)
    assert [c.commitment_id for c in view.commitments] == [f"P{day}" for day in range(9, -1, -1)]
    assert [c.status for c in view.commitments[-5:]] == ["expired", *["open"] * 4]  # P3 due now
    body, _ = dump_state_parts(state)
    assert len(body) < 32 * 1024


def _closed_history(count: int, customer_id: str = "c-1") -> list[ParsedEvent]:
    """`count` complaints, each opened then resolved an hour later and rated, a day apart."""
    steps: list[ParsedEvent] = []
    for day in range(count):
        opened = NOW - timedelta(days=day + 1)
        key = f"{customer_id}-K{day}"
        steps += [
            complaint(key, at=opened, customer_id=customer_id),
            complaint_step("complaint_resolved", key, at=opened + HOUR, customer_id=customer_id),
            complaint_step(
                "complaint_follow_up", key, at=opened + 2 * HOUR, customer_id=customer_id
            ),
        ]
    return steps


def test_older_resolved_complaints_keep_their_clock_but_not_their_texts() -> None:
    """Beyond closed_complaint_texts_kept, a resolved complaint keeps only what the view and
    the managers' figures show (category, severity, time to resolve, satisfaction); beyond
    max_closed_complaints it goes; a late step of a reduced complaint changes nothing."""
    rules = FoldRules(max_closed_complaints=4, closed_complaint_texts_kept=2)
    state = fold_many(new_state("c-1"), _closed_history(6), NOW, rules)
    assert set(state.complaints) == {"c-1-K0", "c-1-K1"}
    assert set(state.complaint_clocks) == {"c-1-K2", "c-1-K3"}
    closed = evaluate(state, NOW, rules).closed_complaints
    assert [c.complaint_id for c in closed] == ["c-1-K0", "c-1-K1", "c-1-K2", "c-1-K3"]
    assert {(c.category, c.hours_to_resolve, c.satisfaction) for c in closed} == {
        ("delivery", 1.0, 4)
    }
    clocks = get_closed_complaint_clocks(state)
    assert [(c.severity, c.hours_to_resolve, c.satisfaction) for c in clocks] == [
        ("high", 1.0, 4)
    ] * 4
    late = complaint_step("complaint_follow_up", "c-1-K3", satisfaction=1, at=NOW)
    after = fold_many(state, [late], NOW, rules)
    assert (after.complaints, after.complaint_clocks) == (state.complaints, state.complaint_clocks)


def test_merge_brings_resolved_clocks_and_unmerge_takes_them_back() -> None:
    """A merged customer's reduced complaints count on the survivor and leave on unmerge."""
    rules = FoldRules(max_closed_complaints=10, closed_complaint_texts_kept=1)
    loser = fold_many(new_state("c-2"), _closed_history(3, "c-2"), NOW, rules)
    survivor = fold_many(new_state("c-1"), _closed_history(1), NOW, rules)
    merged = merge_states(survivor, loser, NOW, rules)
    assert len(get_closed_complaint_clocks(merged)) == 4
    assert set(merged.complaint_clocks) >= {"c-2-K1", "c-2-K2"}
    split = split_states(merged, loser)
    assert len(get_closed_complaint_clocks(split)) == 1

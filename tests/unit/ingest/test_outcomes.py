"""The pure parts of accepting events: repeat rules, claim outcomes, and the HTTP error mapping."""

from __future__ import annotations

import copy
import uuid

from hypothesis import given
from hypothesis import strategies as st

from tests.unit.ingest.test_validation import NOW, RULES
from touchpoint_ingest.events.examples import EVENT_EXAMPLES
from touchpoint_ingest.events.idempotency import ClaimState
from touchpoint_ingest.events.models import FieldError, ItemStatus, field_errors
from touchpoint_ingest.events.outcomes import (
    ItemOutcome,
    Refusal,
    accepted,
    claim_outcome,
    duplicate,
    unavailable,
)
from touchpoint_ingest.events.repeats import first_copies, repeat_outcome
from touchpoint_ingest.events.validation import ValidEvent, Violation, validate_event

EVENT_ID = uuid.UUID("0b7a4a0e-3f7e-4b8e-9a43-1d2f5c6b7a01")


def validated(kind: str, **changes: object) -> ValidEvent:
    """An example event of this kind under EVENT_ID, with top-level fields changed."""
    raw = {**copy.deepcopy(EVENT_EXAMPLES[kind]), "event_id": str(EVENT_ID), **changes}
    result = validate_event(raw, now=NOW, rules=RULES)
    assert isinstance(result, ValidEvent)
    return result


def test_first_copies_names_the_first_index_of_each_event_id() -> None:
    """Only the first copy of an event_id is claimed; later copies point back to it."""
    one, other = validated("call"), validated("page_view", event_id=str(uuid.uuid4()))
    assert first_copies([one, other, one, other, one]) == {one.event_id: 0, other.event_id: 1}


def test_a_repeat_of_an_event_in_kafka_is_a_duplicate() -> None:
    """Same content as a first copy that was accepted (or already known): duplicate."""
    first = validated("call")
    for fate in (accepted(EVENT_ID), duplicate(EVENT_ID)):
        outcome = repeat_outcome(first, first=first, first_outcome=fate, path=("body",))
        assert outcome == duplicate(EVENT_ID)


def test_a_repeat_with_other_content_is_a_conflict() -> None:
    """Same event_id, different content: rejected as a conflict, named at its own event_id."""
    first, other = validated("call"), validated("call", agent_id="agent-99")
    outcome = repeat_outcome(
        other, first=first, first_outcome=accepted(EVENT_ID), path=("body", "events", 4)
    )
    assert outcome.status is ItemStatus.REJECTED
    assert outcome.refusal is Refusal.CONFLICT
    assert [error.path for error in outcome.errors] == [("body", "events", 4, "event_id")]


def test_a_repeat_shares_a_first_copy_that_did_not_land() -> None:
    """When the first copy is unavailable or in progress, so is its identical repeat."""
    first = validated("call")
    in_progress = claim_outcome(EVENT_ID, ClaimState.IN_PROGRESS, ("body", "events", 0))
    for fate in (unavailable(EVENT_ID), in_progress):
        outcome = repeat_outcome(first, first=first, first_outcome=fate, path=("body",))
        assert outcome == fate
        assert outcome is not fate


def test_claim_states_map_to_their_outcomes() -> None:
    """Duplicate is quiet; in progress is unavailable (retry); conflict is rejected."""
    assert claim_outcome(EVENT_ID, ClaimState.DUPLICATE, ("body",)) == duplicate(EVENT_ID)
    waiting = claim_outcome(EVENT_ID, ClaimState.IN_PROGRESS, ("body",))
    assert (waiting.status, waiting.refusal) == (ItemStatus.UNAVAILABLE, Refusal.IN_PROGRESS)
    clash = claim_outcome(EVENT_ID, ClaimState.CONFLICT, ("body",))
    assert (clash.status, clash.refusal) == (ItemStatus.REJECTED, Refusal.CONFLICT)
    assert isinstance(clash, ItemOutcome)


paths = st.lists(st.one_of(st.text(max_size=8), st.integers(0, 999)), max_size=6)


@given(path=paths, reason=st.text(max_size=40), code=st.text(max_size=20))
def test_field_errors_carry_path_reason_and_code_unchanged(
    path: list[str | int], reason: str, code: str
) -> None:
    """The HTTP body of a violation is exactly its path (as loc), reason (msg) and code (type)."""
    [error] = field_errors([Violation.at(path, reason, code)])
    assert error == FieldError(loc=path, msg=reason, type=code)
    assert error.model_dump(mode="json") == {"loc": path, "msg": reason, "type": code}

"""Opening sealed texts for the private read (pure): each with its own customer's key and its
own context; a shredded key or a wrong context gives None, never an error."""

from __future__ import annotations

from tests.unit.profile.factories import NOW, call, complaint_step, event
from touchpoint_common.events.sealed import (
    COMMITMENT_TEXT_CONTEXT,
    COMPLAINT_TEXT_CONTEXT,
    NOTE_CONTEXT,
)
from touchpoint_common.identity import pii
from touchpoint_profile.fold.fold import fold_many
from touchpoint_profile.fold.merge import merge_states
from touchpoint_profile.fold.state import SealedText, new_state
from touchpoint_profile.private.models import CustomerPrivate
from touchpoint_profile.private.service import get_private_texts, open_text, sealed_owners

KEYS = {"c-1": pii.new_data_key(), "c-2": pii.new_data_key()}


def sealed(plain: str, owner: str, context: str) -> str:
    """plain sealed as ingest does, with this customer's key."""
    return pii.seal(plain, data_key=KEYS[owner], context=context)


def test_texts_open_with_the_key_that_sealed_them_even_after_a_merge() -> None:
    """The survivor's key opens its own texts, the loser's key the loser's ones."""
    mine = event(
        "complaint",
        {
            "complaint_id": "K",
            "category": "c",
            "severity": "low",
            "text_sealed": sealed("cracked cup", "c-1", COMPLAINT_TEXT_CONTEXT),
        },
        customer_id="c-1",
    )
    theirs = event(
        "call",
        {
            "duration_seconds": 60,
            "outcome": "callback",
            "note_sealed": sealed("rang twice", "c-2", NOTE_CONTEXT),
            "commitment": {
                "commitment_id": "P",
                "text_sealed": sealed("refund by Monday", "c-2", COMMITMENT_TEXT_CONTEXT),
                "due_at": NOW.isoformat(),
            },
        },
        customer_id="c-2",
    )
    survivor = fold_many(new_state("c-1"), [mine], NOW)
    loser = fold_many(new_state("c-2"), [theirs], NOW)
    merged = merge_states(survivor, loser, NOW)
    assert sealed_owners(merged) == {"c-1", "c-2"}
    complaints, commitments, notes = get_private_texts(merged, keys=KEYS)
    assert complaints[0].key_points == "cracked cup"
    assert commitments[0].text == "refund by Monday"
    assert notes[0].note == "rang twice"
    shredded = get_private_texts(merged, keys={"c-1": KEYS["c-1"]})
    assert shredded[1][0].text is None
    assert shredded[0][0].key_points == "cracked cup"


def test_a_text_opens_only_under_its_own_context() -> None:
    """A note's seal passed off as complaint text does not open; junk does not raise."""
    note = SealedText(sealed=sealed("private", "c-1", NOTE_CONTEXT), customer_id="c-1")
    assert open_text(note, keys=KEYS, context=NOTE_CONTEXT) == "private"
    assert open_text(note, keys=KEYS, context=COMPLAINT_TEXT_CONTEXT) is None
    junk = SealedText(sealed="v1:AAAA", customer_id="c-1")
    assert open_text(junk, keys=KEYS, context=NOTE_CONTEXT) is None
    assert open_text(None, keys=KEYS, context=NOTE_CONTEXT) is None


def test_the_audit_names_only_the_fields_shown() -> None:
    """revealed_fields lists what the answer holds in clear, nothing else."""
    state = fold_many(
        new_state("c-1"), [complaint_step("complaint_assigned", "K"), call(note=False)], NOW
    )
    complaints, commitments, notes = get_private_texts(state, keys=KEYS)
    answer = CustomerPrivate(
        customer_id="c-1",
        identifiers=[],
        complaints=complaints,
        commitments=commitments,
        notes=notes,
    )
    assert answer.revealed_fields() == []

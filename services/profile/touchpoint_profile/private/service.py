"""Opening a customer's sealed texts with the keys that sealed them.

Each sealed text in the state names the customer whose key sealed it (after a merge the
survivor holds texts sealed with a loser's key; losers keep their keys until erased). A text
whose key is gone, or that does not open under its context, is returned as None, never raised.
Only this module opens texts; `touchpoint_profile.read` never does.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint_common.events.sealed import (
    COMMITMENT_TEXT_CONTEXT,
    COMPLAINT_RESOLUTION_CONTEXT,
    COMPLAINT_TEXT_CONTEXT,
    ESCALATION_REASON_CONTEXT,
    FOLLOW_UP_COMMENT_CONTEXT,
    NOTE_CONTEXT,
    REMEDY_CONTEXT,
)
from touchpoint_common.identity import lookup, pii
from touchpoint_profile.fold.care import last_moment
from touchpoint_profile.fold.state import CustomerState, SealedText
from touchpoint_profile.private.models import (
    CommitmentText,
    ComplaintTexts,
    CustomerPrivate,
    NoteText,
    RevealedIdentifier,
)
from touchpoint_profile.read import get_customer_state


def sealed_owners(state: CustomerState) -> set[str]:
    """The customers whose keys sealed any text of this state."""
    texts: list[SealedText | None] = [note.note for note in state.notes]
    for complaint in state.complaints.values():
        texts += [
            complaint.key_points,
            complaint.escalation_reason,
            complaint.remedy,
            complaint.resolution,
            complaint.follow_up_comment,
        ]
    texts += [commitment.text for commitment in state.commitments.values()]
    return {text.customer_id for text in texts if text is not None}


def open_text(text: SealedText | None, *, keys: dict[str, bytes], context: str) -> str | None:
    """The text in clear, or None when absent, its key shredded or the seal not for `context`."""
    if text is None or (data_key := keys.get(text.customer_id)) is None:
        return None
    try:
        return pii.open_sealed(text.sealed, data_key=data_key, context=context)
    except (InvalidTag, ValueError):
        return None


def get_private_texts(
    state: CustomerState, *, keys: dict[str, bytes]
) -> tuple[list[ComplaintTexts], list[CommitmentText], list[NoteText]]:
    """Complaints (latest step first), commitments (soonest due first) and notes (newest
    first) with their texts opened."""
    complaints = sorted(
        state.complaints.values(), key=lambda c: (last_moment(c), c.complaint_id), reverse=True
    )
    promised = sorted(
        state.commitments.values(),
        key=lambda c: (c.due_at.isoformat() if c.due_at else "", c.commitment_id),
    )
    return (
        [
            ComplaintTexts(
                complaint_id=c.complaint_id,
                key_points=open_text(c.key_points, keys=keys, context=COMPLAINT_TEXT_CONTEXT),
                escalation_reason=open_text(
                    c.escalation_reason, keys=keys, context=ESCALATION_REASON_CONTEXT
                ),
                remedy=open_text(c.remedy, keys=keys, context=REMEDY_CONTEXT),
                resolution=open_text(c.resolution, keys=keys, context=COMPLAINT_RESOLUTION_CONTEXT),
                follow_up_comment=open_text(
                    c.follow_up_comment, keys=keys, context=FOLLOW_UP_COMMENT_CONTEXT
                ),
            )
            for c in complaints
        ],
        [
            CommitmentText(
                commitment_id=c.commitment_id,
                text=open_text(c.text, keys=keys, context=COMMITMENT_TEXT_CONTEXT),
            )
            for c in promised
        ],
        [
            NoteText(
                event_id=note.event_id,
                occurred_at=note.occurred_at,
                agent_id=note.agent_id,
                note=open_text(note.note, keys=keys, context=NOTE_CONTEXT),
            )
            for note in state.notes
        ],
    )


async def get_customer_private(
    *, db_session: AsyncSession, customer_id: str, kek: pii.KeyRing
) -> CustomerPrivate | None:
    """Unmasked identifiers and opened texts of a live customer; None when unknown or erased."""
    state = await get_customer_state(db_session=db_session, customer_id=customer_id)
    if state is None:
        return None
    identifiers = await lookup.get_identifiers(
        db_session=db_session, customer_id=state.customer_id, kek=kek
    )
    keys = await lookup.get_data_keys(
        db_session=db_session, customer_ids=sealed_owners(state), kek=kek
    )
    complaints, commitments, notes = get_private_texts(state, keys=keys)
    return CustomerPrivate(
        customer_id=state.customer_id,
        identifiers=[RevealedIdentifier(kind=kind, value=value) for kind, value in identifiers],
        complaints=complaints,
        commitments=commitments,
        notes=notes,
    )

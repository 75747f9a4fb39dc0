"""What the private read returns: personal data in clear (profiles:read_pii, audited)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from touchpoint_common.events.payloads import IdentifierKind


class RevealedIdentifier(BaseModel):
    """An identifier in clear."""

    kind: IdentifierKind
    value: str


class ComplaintTexts(BaseModel):
    """A complaint's free texts (None: not given, or no longer readable)."""

    complaint_id: str
    key_points: str | None
    escalation_reason: str | None
    remedy: str | None
    resolution: str | None
    follow_up_comment: str | None


class CommitmentText(BaseModel):
    """What was promised, in the agent's words."""

    commitment_id: str
    text: str | None


class NoteText(BaseModel):
    """A note an agent left on a call or a visit."""

    event_id: str
    occurred_at: datetime
    agent_id: str | None
    note: str | None


class CustomerPrivate(BaseModel):
    """Everything the customer view keeps sealed or masked, opened for a trusted agent."""

    customer_id: str
    identifiers: list[RevealedIdentifier]
    complaints: list[ComplaintTexts]
    commitments: list[CommitmentText]
    notes: list[NoteText]

    def revealed_fields(self) -> list[str]:
        """The names of the fields this answer shows in clear (for the audit log)."""
        fields = ["identifiers.unmasked"] if self.identifiers else []
        for name in (
            "key_points",
            "escalation_reason",
            "remedy",
            "resolution",
            "follow_up_comment",
        ):
            if any(getattr(complaint, name) for complaint in self.complaints):
                fields.append(f"complaint.{name}")
        if any(commitment.text for commitment in self.commitments):
            fields.append("commitment.text")
        if any(note.note for note in self.notes):
            fields.append("note")
        return fields

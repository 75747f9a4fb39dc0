"""Which free-text fields of each event type travel sealed, and the context each is sealed under.

Ingest seals them (`touchpoint_ingest.events.wire`); only the profile's private endpoint opens
them, with the same context (a sealed value opens only under the context it was made for, so a
note cannot be passed off as a complaint's text). On the wire the plain field `name` becomes
`name_sealed`, at the same place (inside `commitment` for a commitment's text).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from touchpoint_common.events.payloads import EventType

COMPLAINT_TEXT_CONTEXT = "complaint_text"
COMPLAINT_RESOLUTION_CONTEXT = "complaint_resolution"
ESCALATION_REASON_CONTEXT = "complaint_escalation_reason"
REMEDY_CONTEXT = "complaint_remedy"
FOLLOW_UP_COMMENT_CONTEXT = "complaint_follow_up_comment"
NOTE_CONTEXT = "interaction_note"
COMMITMENT_TEXT_CONTEXT = "commitment_text"
COMMITMENT_NOTE_CONTEXT = "commitment_note"
PAGE_QUERY_CONTEXT = "page_view_query"


@dataclass(frozen=True, slots=True)
class SealedField:
    """One free-text field: where it is in the payload, and its seal context."""

    path: tuple[str, ...]
    context: str

    @property
    def wire_name(self) -> str:
        """The field's name on the wire (at the same place as the plain one)."""
        return f"{self.path[-1]}_sealed"


_NOTE = SealedField(("note",), NOTE_CONTEXT)
_COMMITMENT_TEXT = SealedField(("commitment", "text"), COMMITMENT_TEXT_CONTEXT)

SEALED_FIELDS: Mapping[EventType, tuple[SealedField, ...]] = {
    EventType.COMPLAINT: (SealedField(("text",), COMPLAINT_TEXT_CONTEXT),),
    EventType.COMPLAINT_RESOLVED: (SealedField(("resolution",), COMPLAINT_RESOLUTION_CONTEXT),),
    EventType.COMPLAINT_ESCALATED: (SealedField(("reason",), ESCALATION_REASON_CONTEXT),),
    EventType.COMPLAINT_REMEDY: (SealedField(("remedy",), REMEDY_CONTEXT),),
    EventType.COMPLAINT_FOLLOW_UP: (SealedField(("comment",), FOLLOW_UP_COMMENT_CONTEXT),),
    EventType.COMMITMENT_FULFILLED: (SealedField(("note",), COMMITMENT_NOTE_CONTEXT),),
    EventType.CALL: (SealedField(("reason",), "call_reason"), _NOTE, _COMMITMENT_TEXT),
    EventType.STORE_VISIT: (_NOTE, _COMMITMENT_TEXT),
    EventType.ERASE: (SealedField(("reason",), "erase_reason"),),
}
"""Free-text fields by event type (page views seal their URL's query apart: see ingest)."""
